// Keep-alive, pipelining, HTTP/1.0 and Connection handling.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

TEST(KeepAlive, ManyRequestsOnOneConnection) {
  evald_process server;
  http_client c(server.port());
  for (int i = 0; i < 50; ++i) {
    c.send(get_request("/healthz"));
    const auto res = c.read_response();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200);
    EXPECT_FALSE(res->has_header("Connection"));
  }
}

TEST(KeepAlive, HundredPipelinedRequestsAnswerInOrder) {
  evald_process server;
  http_client c(server.port());
  std::string batch;
  for (int i = 0; i < 100; ++i) {
    // Alternate a cheap and a sliced (trial) request: order must hold across both.
    batch += get_request("/prime?n=" + std::to_string(1000 + i) + (i % 2 ? "&method=trial" : ""));
  }
  c.send(batch);
  for (int i = 0; i < 100; ++i) {
    const auto res = c.read_response();
    ASSERT_TRUE(res) << "response " << i;
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["n"], std::to_string(1000 + i));
  }
  c.send(get_request("/healthz", "Connection: close\r\n"));
  const auto last = c.read_response();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->header("Connection"), "close");
  EXPECT_TRUE(c.read_until_closed());
}

TEST(KeepAlive, ConnectionCloseIsHonoured) {
  evald_process server;
  http_client c(server.port());
  c.send(get_request("/healthz", "Connection: close\r\n"));
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->header("Connection"), "close");
  EXPECT_TRUE(c.read_until_closed());
}

TEST(KeepAlive, Http10ClosesUnlessAskedToKeepAlive) {
  evald_process server;
  {
    http_client c(server.port());
    c.send("GET /healthz HTTP/1.0\r\n\r\n");
    const auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->header("Connection"), "close");
    EXPECT_TRUE(c.read_until_closed());
  }
  {
    http_client c(server.port());
    for (int i = 0; i < 3; ++i) {
      c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      const auto res = c.read_response();
      ASSERT_TRUE(res);
      EXPECT_EQ(res->header("Connection"), "keep-alive");
    }
  }
}

TEST(KeepAlive, RequestsPerConnectionCap) {
  evald_process::options opts;
  opts.config_json = R"({"limits": {"max_requests_per_connection": 3}})";
  evald_process server(opts);
  http_client c(server.port());
  c.send(get_request("/healthz") + get_request("/healthz") + get_request("/healthz") +
         get_request("/healthz"));
  for (int i = 0; i < 3; ++i) {
    const auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->header("Connection"), i == 2 ? "close" : "") << i;
  }
  EXPECT_FALSE(c.read_response());  // the fourth is not answered on this connection
}

TEST(KeepAlive, ExpectContinueIsAnswered) {
  evald_process server;
  http_client c(server.port());
  c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const std::string interim = c.read_raw(25);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.send("hello");
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);  // the body was read; the route then refused the method
}
