#include <gtest/gtest.h>

#include "server/framing.hpp"

using namespace evald;

namespace {

std::optional<framing_problem> check(unsigned version,
                                     std::vector<std::pair<http::field, std::string>> fields) {
  http::request_header<> h;
  h.version(version);
  h.method(http::verb::post);
  h.target("/");
  for (auto& [f, v] : fields) {
    h.insert(f, v);
  }
  return check_request_framing(h);
}

}  // namespace

TEST(Framing, PlainRequestsPass) {
  EXPECT_FALSE(check(11, {{http::field::host, "x"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::content_length, "5"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked"}}));
  EXPECT_FALSE(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "Chunked"}}));
  EXPECT_FALSE(check(10, {}));  // HTTP/1.0 needs no Host
}

TEST(Framing, HostRules) {
  EXPECT_EQ(check(11, {})->status, http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "a"}, {http::field::host, "b"}})->status,
            http::status::bad_request);
}

TEST(Framing, SmugglingGuards) {
  const auto both = check(11, {{http::field::host, "x"},
                               {http::field::transfer_encoding, "chunked"},
                               {http::field::content_length, "4"}});
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, http::status::bad_request);
  EXPECT_EQ(check(10, {{http::field::transfer_encoding, "chunked"}})->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "gzip"}})->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked, gzip"}})
                ->status,
            http::status::bad_request);
  EXPECT_EQ(
      check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "chunked, chunked"}})
          ->status,
      http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "foo"}})->status,
            http::status::not_implemented);
  EXPECT_EQ(check(11, {{http::field::host, "x"}, {http::field::transfer_encoding, "gzip, chunked"}})
                ->status,
            http::status::not_implemented);
  // Split across two fields: the last coding of the combined list counts.
  EXPECT_EQ(check(11, {{http::field::host, "x"},
                       {http::field::transfer_encoding, "chunked"},
                       {http::field::transfer_encoding, "gzip"}})
                ->status,
            http::status::bad_request);
  EXPECT_EQ(check(11, {{http::field::host, "x"},
                       {http::field::content_length, "4"},
                       {http::field::content_length, "4"}})
                ->status,
            http::status::bad_request);
}

namespace {
int line_status(std::string_view line) {
  const auto p = check_request_line(line);
  return p ? static_cast<int>(p->status) : 0;
}
}  // namespace

TEST(RequestLine, WellFormedLinesPass) {
  EXPECT_EQ(line_status("GET /healthz HTTP/1.1\r\n"), 0);
  EXPECT_EQ(line_status("GET /healthz HTTP/1.0\r\n"), 0);
  EXPECT_EQ(line_status("OPTIONS * HTTP/1.1\r\n"), 0);
  EXPECT_EQ(line_status("M-SEARCH http://a.example/x?y=1 HTTP/1.1\r\n"), 0);
  EXPECT_EQ(line_status("GET /caf\xc3\xa9 HTTP/1.1\r\n"), 0);  // bytes ≥ 0x80 are judged later
}

TEST(RequestLine, EveryMalformedShapeIs400) {
  for (const std::string_view line : {
           "GET /healthz \r\n",            // no version after the space (the reported case)
           "GET /healthz\r\n",             // no version at all
           "GET /healthz  HTTP/1.1\r\n",   // two spaces
           "GET  /healthz HTTP/1.1\r\n",   // two spaces after the method
           "GET\t/healthz HTTP/1.1\r\n",   // tab as separator
           "GET /healthz\tHTTP/1.1\r\n",   // tab before the version
           "GET /healthz HTTP/1.1 \r\n",   // trailing space
           "GET /healthz HTTP/1.\r\n",     // version cut short
           "GET /healthz HTTP/1\r\n",      // version cut short
           "GET /healthz HTTP/\r\n",       // version cut short
           "GET /healthz HTTP\r\n",        // version cut short
           "GET /healthz H\r\n",           // version cut short
           "GET /healthz http/1.1\r\n",    // the name is case-sensitive
           "GET /healthz HTTP/1.1\n",      // bare LF
           "GET /healthz HTTP/1.1\r\r\n",  // stray CR
           "GET /healthz HTTP/11.1\r\n",   // two-digit major
           "GET /hea\x01lthz HTTP/1.1\r\n",
           " GET /healthz HTTP/1.1\r\n",  // leading space
           "\r\n",                        // empty line
           "GET\r\n",
           "GE(T /healthz HTTP/1.1\r\n",  // not a token
       }) {
    EXPECT_EQ(line_status(line), 400) << "\"" << line << "\"";
  }
}

TEST(RequestLine, OtherMajorVersionsAre505) {
  EXPECT_EQ(line_status("GET / HTTP/2.0\r\n"), 505);
  EXPECT_EQ(line_status("GET / HTTP/0.9\r\n"), 505);
}

TEST(RequestLine, OverlongLineIs501WhileStillAMethodElse414) {
  EXPECT_EQ(static_cast<int>(overlong_request_line(std::string(9000, 'A'), 8192).status), 501);
  EXPECT_EQ(static_cast<int>(overlong_request_line("GET /" + std::string(9000, 'a'), 8192).status),
            414);
}
