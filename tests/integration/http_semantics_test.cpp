// RFC 9110 / 9112 semantics found missing by outside conformance suites: malformed
// request lines answered at once, no framing headers on 204/304, no 1xx to HTTP/1.0,
// preconditions, cacheable answers with strong ETags, byte ranges on /chargen, and
// the SHOULD-level items (empty line, OPTIONS *, userinfo, over-long method, close
// after a bad target). Responses are compared byte for byte, the Date value aside.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/shared_server.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

// The header timeout is long, so an answer that comes within the client's few
// seconds cannot be the 408 of a parser that waited for more bytes.
class HttpSemantics : public shared_server<HttpSemantics> {
 public:
  static std::string config() {
    return R"({"timeouts":{"header":"60s"},"http":{"cache_control":"public, max-age=600"}})";
  }
};

// Reads one raw response head (through the blank line) and replaces the Date
// value, the one part that changes between runs, with "<date>".
std::string read_head(http_client& c) {
  std::string head;
  while (!head.ends_with("\r\n\r\n")) {
    const std::string b = c.read_raw(1);
    if (b.empty()) {
      ADD_FAILURE() << "connection ended inside a response head: " << head;
      return head;
    }
    head += b;
  }
  static const std::regex date("\r\nDate: [^\r]*\r\n");
  return std::regex_replace(head, date, "\r\nDate: <date>\r\n");
}

std::string error_bytes(int status, std::string_view reason, std::string_view code,
                        std::string_view message, bool close) {
  nlohmann::ordered_json j;
  j["error"] = {{"status", status}, {"code", code}, {"message", message}};
  const std::string body = j.dump();
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nServer: evald/0.1.0\r\nDate: <date>\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + body;
}

std::string raw_exchange(std::uint16_t port, const std::string& request) {
  http_client c(port, std::chrono::seconds(5));
  c.send(request);
  std::string head = read_head(c);
  std::string rest;
  for (;;) {
    const std::string b = c.read_raw(4096);
    if (b.empty()) {
      break;
    }
    rest += b;
  }
  return head + rest;
}

http_response ask(std::uint16_t port, const std::string& target, const std::string& headers,
                  std::string_view method = "GET") {
  http_client c(port, std::chrono::seconds(5));
  c.send(std::string(method) + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
         headers + "\r\n");
  auto r = c.read_response(method == "HEAD");
  if (!r) {
    throw std::runtime_error("no response to " + target);
  }
  return *r;
}

std::string chargen_body(std::uint16_t port, std::uint64_t n) {
  return ask(port, "/chargen?bytes=" + std::to_string(n), "").body;
}

constexpr std::string_view line_prefix =
    "malformed request line (expected \"METHOD /target HTTP/1.1\" and CRLF): ";

}  // namespace

// 1. RFC 9112 §3: a request line that is not "method SP target SP HTTP/x.y CRLF"
// is a 400 at once, and the connection closes (EOF right after the body).
TEST_F(HttpSemantics, MalformedRequestLinesAre400AtOnceAndClose) {
  struct line_case {
    std::string raw;
    std::string why;
  };
  const std::vector<line_case> cases = {
      {"GET /healthz \r\n\r\n", "no HTTP version after the target"},
      {"GET /healthz  HTTP/1.1\r\nHost: x\r\n\r\n", "more than one space before the version"},
      {"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "empty request target or more than one space"},
      {"GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n", "one space must follow the method"},
      {"GET /healthz\tHTTP/1.1\r\nHost: x\r\n\r\n", "control character in the request target"},
      {"GET /healthz HTTP/1.\r\nHost: x\r\n\r\n", "the version must be HTTP/DIGIT.DIGIT, alone"},
      {"GET /healthz HTTP/1\r\n\r\n", "the version must be HTTP/DIGIT.DIGIT, alone"},
      {"GET /healthz HTTP\r\n\r\n", "the version must be HTTP/DIGIT.DIGIT, alone"},
      {"GET /healthz H\r\n\r\n", "the version must be HTTP/DIGIT.DIGIT, alone"},
      {"GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", "the version must be HTTP/DIGIT.DIGIT, alone"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.raw);
    EXPECT_EQ(raw_exchange(port(), c.raw), error_bytes(400, "Bad Request", "bad_request",
                                                       std::string(line_prefix) + c.why, true));
  }
}

// 2. RFC 9110 §8.6, §15.3.5: no Content-Length (nor Content-Type) in a 204.
TEST_F(HttpSemantics, NoContentHasNoFramingHeadersAndKeepsTheConnection) {
  http_client c(port(), std::chrono::seconds(5));
  c.send("OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_head(c),
            "HTTP/1.1 204 No Content\r\nServer: evald/0.1.0\r\nDate: <date>\r\n"
            "Allow: GET, HEAD, OPTIONS\r\n\r\n");
  // Nothing follows the head: the next bytes are the answer to the next request.
  c.send(get_request("/healthz"));
  const auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

// 3. RFC 9110 §10.1.1: an HTTP/1.0 client's 100-continue is ignored: no interim
// response, the first bytes are the final answer.
TEST_F(HttpSemantics, Http10ExpectContinueGetsNoInterimResponse) {
  http_client c(port(), std::chrono::seconds(5));
  const std::string body = R"({"workload":"factor","n":"12"})";
  c.send("POST /eval HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  c.send(body);
  const std::string head = read_head(c);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  // HTTP/1.1 still gets its 100 Continue.
  http_client d(port(), std::chrono::seconds(5));
  d.send(
      "POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(d.read_raw(25), "HTTP/1.1 100 Continue\r\n\r\n");
}

// 4. RFC 9110 §13.2.2 on GET: If-None-Match → 304, false If-Match → 412, and
// conditions on an answer that would not be 2xx are ignored.
TEST_F(HttpSemantics, PreconditionsOnGet) {
  const auto full = ask(port(), "/chargen?bytes=100", "");
  ASSERT_EQ(full.status, 200);
  const std::string tag = full.header("ETag");
  ASSERT_EQ(tag.size(), 18U) << "a strong quoted tag";
  EXPECT_EQ(full.header("Cache-Control"), "public, max-age=600");

  EXPECT_EQ(raw_exchange(port(), get_request("/chargen?bytes=100",
                                             "If-None-Match: *\r\nConnection: close\r\n")),
            "HTTP/1.1 304 Not Modified\r\nServer: evald/0.1.0\r\nDate: <date>\r\nETag: " + tag +
                "\r\nCache-Control: public, max-age=600\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ask(port(), "/chargen?bytes=100", "If-None-Match: \"x\", " + tag + "\r\n").status, 304);
  EXPECT_EQ(ask(port(), "/chargen?bytes=100", "If-None-Match: W/" + tag + "\r\n").status, 304);
  EXPECT_EQ(ask(port(), "/chargen?bytes=100", "If-None-Match: \"x\"\r\n").body, full.body);
  EXPECT_EQ(ask(port(), "/chargen?bytes=100", "If-Match: " + tag + "\r\n").body, full.body);
  const auto failed = ask(port(), "/chargen?bytes=100", "If-Match: \"x\"\r\n");
  EXPECT_EQ(failed.status, 412);
  EXPECT_EQ(json::parse(failed.body)["error"]["code"], "precondition_failed");
  // If-Match is judged before If-None-Match.
  EXPECT_EQ(
      ask(port(), "/chargen?bytes=100", "If-Match: \"x\"\r\nIf-None-Match: " + tag + "\r\n").status,
      412);
  EXPECT_EQ(ask(port(), "/chargen?bytes=100", "If-None-Match: *\r\n", "HEAD").status, 304);
  // Routes without a tag still have a current representation for "*".
  EXPECT_EQ(ask(port(), "/healthz", "If-None-Match: *\r\n").status, 304);
  EXPECT_EQ(ask(port(), "/healthz", "If-Match: \"x\"\r\n").status, 412);
  // Not a 2xx without the condition: the condition is ignored.
  EXPECT_EQ(ask(port(), "/prime?n=abc", "If-None-Match: *\r\n").status, 400);
  EXPECT_EQ(ask(port(), "/nowhere", "If-None-Match: *\r\n").status, 404);
  // No modification dates exist, so date conditions are ignored.
  EXPECT_EQ(ask(port(), "/chargen?bytes=100",
                "If-Modified-Since: Sun, 06 Nov 2044 08:49:37 GMT\r\n"
                "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
                .status,
            200);
}

// 4. On unsafe methods the conditions are judged before anything is done.
TEST_F(HttpSemantics, PreconditionsOnUnsafeMethods) {
  const std::string body = R"({"workload":"factor","n":"12"})";
  const auto post = [&](const std::string& headers) {
    http_client c(port(), std::chrono::seconds(5));
    c.send(
        "POST /eval HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body);
    return c.read_response().value();
  };
  EXPECT_EQ(post("").status, 200);
  EXPECT_EQ(post("If-None-Match: *\r\n").status, 200);  // /eval has no representation
  EXPECT_EQ(post("If-Match: *\r\n").status, 412);
  EXPECT_EQ(post("If-Match: \"x\"\r\n").status, 412);

  // DELETE of a job that exists: If-None-Match: * fails and the job is left alone.
  http_client c(port(), std::chrono::seconds(5));
  const std::string launch =
      R"({"workload":"prime","n":"100109100129162907","method":"trial","timeout_ms":20000})";
  c.send(
      "POST /eval-launch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(launch.size()) + "\r\n\r\n" + launch);
  const auto accepted = c.read_response().value();
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const std::string href = json::parse(accepted.body)["href"];
  EXPECT_EQ(ask(port(), href, "If-None-Match: *\r\n", "DELETE").status, 412);
  const auto after_412 = json::parse(ask(port(), href, "").body);
  EXPECT_NE(after_412["status"], "cancelled");
  EXPECT_EQ(ask(port(), href, "If-Match: *\r\n", "DELETE").status, 200);
  EXPECT_EQ(json::parse(ask(port(), href, "").body)["status"], "cancelled");
  EXPECT_EQ(ask(port(), "/jobs/nope", "If-Match: *\r\n", "DELETE").status, 404);
}

// Deterministic answers are cacheable: a strong ETag keyed by the answer's inputs
// and the configured Cache-Control; timed trial-division answers are not.
TEST_F(HttpSemantics, PureAnswersHaveStrongETagsAndCacheControl) {
  const auto p7 = ask(port(), "/prime?n=7", "");
  const auto p7_again = ask(port(), "/prime?n=0007&method=miller-rabin", "");
  const auto p8 = ask(port(), "/prime?n=8", "");
  ASSERT_EQ(p7.body, p7_again.body);
  EXPECT_EQ(p7.header("ETag"), p7_again.header("ETag"));
  EXPECT_NE(p7.header("ETag"), p8.header("ETag"));
  EXPECT_EQ(p7.header("Cache-Control"), "public, max-age=600");
  const auto f = ask(port(), "/factor?n=12", "");
  EXPECT_FALSE(f.header("ETag").empty());
  EXPECT_NE(f.header("ETag"), ask(port(), "/factor?n=13", "").header("ETag"));
  EXPECT_EQ(ask(port(), "/factor?n=12", "If-None-Match: " + f.header("ETag") + "\r\n").status, 304);
  const auto trial = ask(port(), "/prime?n=97&method=trial", "");
  EXPECT_EQ(trial.status, 200);
  EXPECT_FALSE(trial.has_header("ETag"));
  EXPECT_FALSE(trial.has_header("Cache-Control"));
  EXPECT_FALSE(ask(port(), "/healthz", "").has_header("ETag"));
}

TEST(HttpCaching, CacheControlIsConfigurableAndCanBeOff) {
  evald_process::options opts;
  opts.config_json = R"({"http":{"cache_control":""}})";
  evald_process server(opts);
  const auto r = get(server.port(), "/prime?n=7");
  EXPECT_FALSE(r.has_header("Cache-Control"));
  EXPECT_FALSE(r.header("ETag").empty());
}

// RFC 9110 §14: one range → 206 with exactly those bytes; several → the one range
// that covers them; none satisfiable → 416; bad syntax or a failed If-Range → 200.
TEST_F(HttpSemantics, ByteRangesOnChargen) {
  const std::string full = chargen_body(port(), 1000);
  ASSERT_EQ(full.size(), 1000U);
  const std::string tag = ask(port(), "/chargen?bytes=1000", "").header("ETag");

  EXPECT_EQ(raw_exchange(port(), get_request("/chargen?bytes=1000",
                                             "Range: bytes=10-19\r\nConnection: close\r\n")),
            "HTTP/1.1 206 Partial Content\r\nServer: evald/0.1.0\r\nDate: <date>\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\nContent-Length: 10\r\nETag: " +
                tag +
                "\r\nCache-Control: public, max-age=600\r\nConnection: close\r\n"
                "Accept-Ranges: bytes\r\nContent-Range: bytes 10-19/1000\r\n\r\n" +
                full.substr(10, 10));
  struct range_case {
    std::string range;
    std::uint64_t first, last;
  };
  for (const auto& rc : std::vector<range_case>{{"bytes=-5", 995, 999},
                                                {"bytes=990-", 990, 999},
                                                {"bytes=500-5000", 500, 999},
                                                {"bytes=0-1, 5-6", 0, 6},
                                                {"bytes=997-999,0-0", 0, 999},
                                                {"bytes=73-146", 73, 146}}) {
    SCOPED_TRACE(rc.range);
    const auto r = ask(port(), "/chargen?bytes=1000", "Range: " + rc.range + "\r\n");
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.header("Content-Range"),
              "bytes " + std::to_string(rc.first) + "-" + std::to_string(rc.last) + "/1000");
    EXPECT_EQ(r.body, full.substr(rc.first, rc.last - rc.first + 1));
  }
  const auto none = ask(port(), "/chargen?bytes=1000", "Range: bytes=1000-\r\n");
  EXPECT_EQ(none.status, 416);
  EXPECT_EQ(none.header("Content-Range"), "bytes */1000");
  EXPECT_EQ(json::parse(none.body)["error"]["code"], "range_not_satisfiable");
  for (const std::string& ignored : std::vector<std::string>{
           "Range: bytes=5-1\r\n", "Range: lines=1-2\r\n",
           "Range: bytes=0-9\r\nIf-Range: \"other\"\r\n",
           "Range: bytes=0-9\r\nIf-Range: W/" + tag + "\r\n",
           "Range: bytes=0-9\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n"}) {
    SCOPED_TRACE(ignored);
    const auto r = ask(port(), "/chargen?bytes=1000", ignored);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, full);
  }
  EXPECT_EQ(
      ask(port(), "/chargen?bytes=1000", "Range: bytes=0-9\r\nIf-Range: " + tag + "\r\n").body,
      full.substr(0, 10));
  // A matching If-None-Match wins over the range (steps 3 before 5 of §13.2.2).
  EXPECT_EQ(ask(port(), "/chargen?bytes=1000", "Range: bytes=0-9\r\nIf-None-Match: " + tag + "\r\n")
                .status,
            304);
  // HEAD has no ranges; the endless stream has no length to take a range of.
  const auto head = ask(port(), "/chargen?bytes=1000", "Range: bytes=0-9\r\n", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "1000");
}

// RFC 9112 §2.2: one empty line before a request line is ignored, so a stray CRLF
// after a POST body does not break the pipelined request behind it.
TEST_F(HttpSemantics, StrayCrlfAfterABodyIsIgnored) {
  const std::string body = R"({"workload":"factor","n":"12"})";
  http_client c(port(), std::chrono::seconds(5));
  c.send("POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body + "\r\n" + get_request("/healthz"));
  const auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  const auto second = c.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, R"({"status":"ok"})");
}

// RFC 9112 §3.2.4: OPTIONS * is about the server; GET * stays a bad target.
TEST_F(HttpSemantics, OptionsAsterisk) {
  EXPECT_EQ(raw_exchange(port(), "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "HTTP/1.1 204 No Content\r\nServer: evald/0.1.0\r\nDate: <date>\r\nConnection: "
            "close\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n\r\n");
}

// RFC 9110 §4.2.4 (userinfo), §15.6.2 (501 for an unknown method however long),
// and a connection that sent an unreadable target is closed after its 400.
TEST_F(HttpSemantics, UserinfoOverlongMethodAndBadTargets) {
  EXPECT_EQ(raw_exchange(
                port(), "GET http://user:pw@a.example/healthz HTTP/1.1\r\nHost: a.example\r\n\r\n"),
            error_bytes(
                400, "Bad Request", "bad_request",
                "the request target must not contain userinfo (\"user@\", RFC 9110 section 4.2.4)",
                true));
  EXPECT_EQ(raw_exchange(port(), std::string(9000, 'X') + " / HTTP/1.1\r\nHost: x\r\n\r\n"),
            error_bytes(501, "Not Implemented", "not_implemented",
                        "unknown request method (longer than 8192 bytes)", true));
  EXPECT_EQ(raw_exchange(port(), "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            error_bytes(400, "Bad Request", "bad_request",
                        "unsupported request target (expected \"/path?query\" or "
                        "\"http://host/path\")",
                        true));
  const std::string bad_escape =
      raw_exchange(port(), "GET /prime?n=%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(bad_escape.starts_with("HTTP/1.1 400 Bad Request\r\n")) << bad_escape;
  EXPECT_NE(bad_escape.find("\r\nConnection: close\r\n"), std::string::npos) << bad_escape;
}
