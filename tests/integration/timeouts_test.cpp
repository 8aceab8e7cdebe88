// Header (slowloris), keep-alive, body and write-stall timeouts, with short
// configured values so the tests stay fast.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {
evald_process::options short_timeouts() {
  evald_process::options opts;
  opts.config_json = R"({"timeouts": {"header": "400ms", "keep_alive": "300ms", "body": "400ms",
                                      "write_stall": "300ms"}})";
  return opts;
}
}  // namespace

TEST(Timeouts, SlowHeaderTrickleGets408AndClose) {
  evald_process server(short_timeouts());
  http_client c(server.port());
  const auto start = steady::now();
  // Trickle a header that never ends, a byte at a time, like slowloris.
  std::optional<http_response> res;
  c.send("GET /healthz HTTP/1.1\r\n");
  for (int i = 0; i < 40; ++i) {
    try {
      c.send("X");
    } catch (const std::exception&) {
      break;  // the server closed on us
    }
    std::this_thread::sleep_for(50ms);  // the client's pace under test, not a sync
  }
  res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 408);
  EXPECT_EQ(res->header("Connection"), "close");
  EXPECT_TRUE(c.read_until_closed());
  const auto took = steady::now() - start;
  EXPECT_GE(took, 390ms);
  EXPECT_LT(took, 3s);
}

TEST(Timeouts, IdleKeepAliveClosesQuietly) {
  evald_process server(short_timeouts());
  http_client c(server.port());
  c.send(get_request("/healthz"));
  ASSERT_TRUE(c.read_response());
  const auto start = steady::now();
  EXPECT_FALSE(c.read_response());  // EOF without any bytes
  const auto took = steady::now() - start;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s);
}

TEST(Timeouts, SilentNewConnectionIsClosedWithoutAReply) {
  evald_process server(short_timeouts());
  http_client c(server.port());
  EXPECT_FALSE(c.read_response());
}

TEST(Timeouts, SlowBodyGets408) {
  evald_process server(short_timeouts());
  http_client c(server.port());
  c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part");
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 408);
  EXPECT_TRUE(c.read_until_closed());
}

TEST(Timeouts, ClientThatStopsReadingIsDropped) {
  evald_process server(short_timeouts());
  http_client c(server.port(), 5s);
  c.send(get_request("/chargen"));  // unbounded stream (up to 1 GiB)
  // Not reading is the behaviour under test: the server's write stalls, and after
  // write_stall (300 ms) it must give up on us.
  std::this_thread::sleep_for(1500ms);
  // What sat in the socket buffers drains, then EOF or reset — far below the
  // 1 GiB cap a live stream would go on to.
  const auto start = steady::now();
  EXPECT_TRUE(c.read_until_closed(64 << 20));
  EXPECT_LT(steady::now() - start, 3s);
  // The server is still fine for others.
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}

// The same for a large /eval batch response, which is built whole before it is
// written: 100,000 results (over 7 MB) are more than the socket buffers hold once
// the client's receive buffer is small, so the write stalls and the server drops
// the connection, and the response with it.
TEST(Timeouts, ClientThatStopsReadingABatchResponseIsDropped) {
  evald_process::options opts;
  opts.config_json = R"({"timeouts": {"write_stall": "300ms"},
                         "limits": {"max_body_size": "8MiB"}})";
  evald_process server(opts);
  constexpr std::size_t items = 100'000;
  std::string body = R"({"items":[)";
  for (std::size_t i = 0; i < items; ++i) {
    body += (i ? "," : "") + std::string(R"({"workload":"factor","n":"18446744073709551557"})");
  }
  body += "]}";
  // One result: {"n":"18446744073709551557","factors":["18446744073709551557"],"prime":true}
  constexpr std::size_t response_at_least = items * 70;

  http_client c(server.port(), 5s);
  const int small_buffer = 4096;
  ASSERT_EQ(setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof small_buffer), 0);
  c.send("POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  // Not reading is the behaviour under test.
  EXPECT_TRUE(eventually([&] {
    return scrape_metrics(server.port()).at(R"(evald_timeouts_total{kind="write"})") >= 1;
  })) << "the stalled batch response was not dropped";
  // What the kernel buffered drains, then reset or EOF, before the whole response.
  EXPECT_TRUE(c.read_until_closed(response_at_least));
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}
