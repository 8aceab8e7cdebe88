// Header and body limits and the RFC 9112 framing checks: each answered with a
// JSON error, and the connection closed where the framing is uncertain.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

class Limits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new evald_process(); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(), 0);
    delete server_;
  }
  // Sends raw bytes; expects `status` with a JSON error body, then the close.
  static void expect_rejected(const std::string& raw, int status, const std::string& code = "") {
    http_client c(server_->port());
    c.send(raw);
    const auto res = c.read_response();
    ASSERT_TRUE(res) << raw.substr(0, 80);
    EXPECT_EQ(res->status, status) << raw.substr(0, 80) << " → " << res->body;
    EXPECT_EQ(res->header("Connection"), "close");
    const json j = json::parse(res->body);
    EXPECT_EQ(j["error"]["status"], status);
    if (!code.empty()) {
      EXPECT_EQ(j["error"]["code"], code);
    }
    EXPECT_TRUE(c.read_until_closed()) << "connection left open after " << status;
  }
  static evald_process* server_;
};
evald_process* Limits::server_ = nullptr;

TEST_F(Limits, NineKibHeaderIs431) {
  expect_rejected(get_request("/healthz", "X-Big: " + std::string(9 * 1024, 'a') + "\r\n"), 431,
                  "header_too_large");
}

TEST_F(Limits, HeaderJustUnderTheLimitIsServed) {
  http_client c(server_->port());
  c.send(get_request("/healthz", "X-Big: " + std::string(7 * 1024, 'a') + "\r\n"));
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(Limits, OverlongRequestLineIs414) {
  expect_rejected("GET /prime?n=" + std::string(10 * 1024, '1') + " HTTP/1.1\r\nHost: x\r\n\r\n",
                  414, "uri_too_long");
}

TEST_F(Limits, TwoMibBodyIs413) {
  expect_rejected("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n" +
                      std::string(64 * 1024, 'x'),
                  413, "body_too_large");
}

TEST_F(Limits, ChunkedBodyOverTheLimitIs413) {
  std::string raw = "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(256 * 1024, 'y');
  for (int i = 0; i < 5; ++i) {
    raw += "40000\r\n" + chunk + "\r\n";
  }
  raw += "0\r\n\r\n";
  http_client c(server_->port());
  try {
    c.send(raw);
  } catch (const std::exception&) {
    // The server may close before taking all of it; the answer is still owed.
  }
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
}

TEST_F(Limits, ChunkedBodyWithinTheLimitIsReadAndRouted) {
  http_client c(server_->port());
  c.send(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n" +
      get_request("/healthz"));
  const auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 405);
  const auto second = c.read_response();  // the connection survived: framing was certain
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
}

TEST_F(Limits, SmugglingCasesAre400) {
  expect_rejected(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
      400);
  expect_rejected(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: "
      "5\r\n\r\nhello",
      400);
  expect_rejected("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello", 400);
  expect_rejected(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400);
  expect_rejected("POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
  expect_rejected("GET /healthz HTTP/1.1\r\n\r\n", 400);
  expect_rejected("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  expect_rejected(
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      400);
}

TEST_F(Limits, UnknownTransferCodingIs501) {
  expect_rejected("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
                  501, "not_implemented");
}

TEST_F(Limits, GarbageIs400) {
  expect_rejected("HELLO\r\n\r\n", 400);
  expect_rejected("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505);
  expect_rejected("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400);
}
