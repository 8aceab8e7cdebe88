// A table of raw-byte requests derived from RFC 9112, each with the status it must
// get and whether the connection must close (framing uncertain → always close, so
// nothing can be smuggled into a following request).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;

namespace {

enum class after { close, keep_open, either };

struct malformed_case {
  const char* name;
  std::string raw;
  int status;
  after connection;
};

std::string post_chunked(const std::string& body) {
  return "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
}
std::string get_with(const std::string& header_lines) {
  return "GET /healthz HTTP/1.1\r\nHost: x\r\n" + header_lines + "\r\n";
}

std::vector<malformed_case> cases() {
  using namespace std::string_literals;
  return {
      // Request line (RFC 9112 §3)
      {"double space", "GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"tab separator", "GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", 400, after::close},
      {"bare CR", "GET /healthz HTTP/1.1\rHost: x\r\n\r\n", 400, after::close},
      {"lower-case version", "GET /healthz http/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"version without minor", "GET /healthz HTTP/1\r\nHost: x\r\n\r\n", 400, after::close},
      {"HTTP/0.9", "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", 505, after::close},
      {"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, after::close},
      {"HTTP/3.0", "GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", 505, after::close},
      {"extra token", "GET /healthz HTTP/1.1 x\r\nHost: x\r\n\r\n", 400, after::close},
      {"missing version", "GET /healthz\r\nHost: x\r\n\r\n", 400, after::close},
      {"method only", "GET\r\n\r\n", 400, after::close},
      {"one empty line first is ignored", "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200,
       after::keep_open},
      {"two empty lines first", "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       after::close},
      {"only CRLFs", "\r\n\r\n\r\n", 400, after::close},
      {"method with slash", "GE/T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"NUL in method", "GE\0T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"s, 400, after::close},
      {"space in target", "GET /hea lthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"control in target", "GET /hea\x01lthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"raw byte 0xff in target", "GET /heal\xffthz HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       after::either},
      {"DEL in target", "GET /heal\x7fthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::either},
      {"relative target", "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"asterisk target on GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, after::close},
      {"authority form on CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
       400, after::close},
      {"absolute form", "GET http://a.example/healthz HTTP/1.1\r\nHost: a.example\r\n\r\n", 200,
       after::keep_open},
      {"unknown method", "FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, after::keep_open},
      {"lower-case method is another method", "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501,
       after::keep_open},
      {"PATCH on a GET route", "PATCH /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405, after::keep_open},
      {"over-long target", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
       after::close},
      {"over-long unknown method", std::string(9000, 'A') + " / HTTP/1.1\r\nHost: x\r\n\r\n", 501,
       after::close},
      // Header fields (RFC 9112 §5)
      {"no colon", get_with("NoColon\r\n"), 400, after::close},
      {"empty field name", get_with(": v\r\n"), 400, after::close},
      {"space in field name", get_with("Bad Name: v\r\n"), 400, after::close},
      {"space before colon", "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400, after::close},
      {"leading whitespace on first field", "GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 400,
       after::close},
      {"control byte in value",
       get_with("X-A: a\x01"
                "b\r\n"),
       400, after::close},
      {"NUL in value", get_with("X-A: a\0b\r\n"s), 400, after::close},
      {"bare CR in value", get_with("X-A: a\rb\r\n"), 400, after::close},
      {"obs-fold is replaced by a space", get_with("X-A: a\r\n b\r\n"), 200, after::keep_open},
      {"UTF-8 in a value", get_with("X-A: \xc3\xbc\r\n"), 200, after::keep_open},
      {"oversized header", get_with("X-Big: " + std::string(9000, 'a') + "\r\n"), 431,
       after::close},
      {"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, after::close},
      {"two Host fields", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, after::close},
      {"Host with a space", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, after::close},
      {"Host with a slash", "GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, after::close},
      {"empty Host is allowed", "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", 200, after::keep_open},
      {"HTTP/1.0 needs no Host", "GET /healthz HTTP/1.0\r\n\r\n", 200, after::close},
      // Content-Length (RFC 9112 §6.3, RFC 9110 §8.6)
      {"two equal Content-Length",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Content-Length: 5\r\n\r\nhello",
       400, after::close},
      {"two different Content-Length",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Content-Length: 6\r\n\r\nhello!",
       400, after::close},
      {"Content-Length list",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400, after::close},
      {"negative Content-Length", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
       400, after::close},
      {"Content-Length with plus",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400, after::close},
      {"hex Content-Length",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400, after::close},
      {"empty Content-Length", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400,
       after::close},
      {"Content-Length beyond 64 bits",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
       after::close},
      {"Content-Length over the body limit",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n", 413, after::close},
      {"Content-Length with OWS",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length:  5 \r\n\r\nhello", 405,
       after::keep_open},
      {"GET with a body", get_with("Content-Length: 3\r\n") + "abc", 200, after::keep_open},
      // Transfer-Encoding (RFC 9112 §6.1)
      {"TE and CL together",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 5\r\n\r\n0\r\n\r\n",
       400, after::close},
      {"TE last coding not chunked",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked, gzip\r\n\r\n",
       400, after::close},
      {"TE gzip only", "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
       400, after::close},
      {"TE chunked twice",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked"
       "\r\n\r\n0\r\n\r\n",
       400, after::close},
      {"TE split over two fields",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
       "\r\nTransfer-Encoding: gzip\r\n\r\n",
       400, after::close},
      {"TE unknown coding",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501,
       after::close},
      {"TE gzip then chunked",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
       "chunked\r\n\r\n0\r\n\r\n",
       501, after::close},
      {"TE on HTTP/1.0", "POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400, after::close},
      // Chunked bodies (RFC 9112 §7.1)
      {"chunk size not hex", post_chunked("zz\r\nhello\r\n0\r\n\r\n"), 400, after::close},
      {"chunk size overflow", post_chunked("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400,
       after::close},
      {"negative chunk size", post_chunked("-5\r\nhello\r\n0\r\n\r\n"), 400, after::close},
      {"space after chunk size", post_chunked("5 \r\nhello\r\n0\r\n\r\n"), 400, after::close},
      {"chunk data without CRLF", post_chunked("5\r\nhelloXX0\r\n\r\n"), 400, after::close},
      {"chunk extension", post_chunked("5;a=b\r\nhello\r\n0\r\n\r\n"), 405, after::keep_open},
      {"chunk extension over the cap", post_chunked("5;a=" + std::string(20000, 'x') + "\r\n"), 400,
       after::close},
      {"trailer field", post_chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), 405, after::keep_open},
      {"trailer with Content-Length", post_chunked("5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"),
       400, after::close},
      {"chunked body over the limit",
       post_chunked("200001\r\n" + std::string(0x200001, 'y') + "\r\n0\r\n\r\n"), 413,
       after::close},
      // Expectations (RFC 9110 §10.1.1)
      {"unknown expectation",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
       "Expect: bogus\r\n\r\nhi",
       417, after::close},
  };
}

}  // namespace

TEST(Malformed, EachRequestGetsItsStatusAndTheRightConnectionHandling) {
  evald_process server;
  const auto table = cases();
  ASSERT_GE(table.size(), 60U);
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    http_client client(server.port(), std::chrono::seconds(5));
    try {
      client.send(c.raw);
    } catch (const std::exception&) {
      // The server may answer and close before taking every byte; the answer is owed.
    }
    std::optional<http_response> res;
    try {
      res = client.read_response();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unreadable response: " << e.what();
      continue;
    }
    ASSERT_TRUE(res) << "no response";
    EXPECT_EQ(res->status, c.status) << res->body;
    if (res->status >= 400) {
      const auto j = nlohmann::json::parse(res->body, nullptr, false);
      EXPECT_TRUE(j.contains("error")) << "error bodies are JSON: " << res->body;
    }
    if (c.connection == after::close) {
      EXPECT_EQ(res->header("Connection"), "close");
      EXPECT_TRUE(client.read_until_closed(1 << 20)) << "connection left open";
    } else if (c.connection == after::keep_open) {
      // The connection is still usable: a follow-up request is answered.
      client.send(get_request("/healthz"));
      const auto next = client.read_response();
      ASSERT_TRUE(next) << "connection closed after a request with certain framing";
      EXPECT_EQ(next->status, 200);
    }
  }
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}
