// Slowloris: 1,000 connections trickle header lines and never finish. Every one is
// closed by the header timeout with 408, and normal clients keep being served fast.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST(Slowloris, ThousandTricklingConnectionsGet408WhileOthersAreServed) {
  raise_fd_limit();
  evald_process::options opts;
  opts.config_json = R"({"timeouts": {"header": "1500ms"}})";
  evald_process server(opts);

  std::vector<std::unique_ptr<http_client>> slow;
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(std::make_unique<http_client>(server.port(), 5s));
    slow.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  }
  healthz_probe normal(server.port());  // normal traffic meanwhile
  // Trickle one header line to every slow connection every 300 ms for 2.4 s.
  for (int round = 0; round < 8; ++round) {
    for (auto& s : slow) {
      try {
        s->send("X-Trickle: 1\r\n");
      } catch (const std::exception&) {
        // already closed by the server
      }
    }
    std::this_thread::sleep_for(300ms);  // the attacker's pace, part of the scenario
  }
  const auto latencies_ms = normal.stop();

  int got_408 = 0;
  for (auto& s : slow) {
    try {
      const auto res = s->read_response();
      if (res && res->status == 408 && s->read_until_closed()) {
        ++got_408;
      }
    } catch (const std::exception&) {
    }
  }
  EXPECT_EQ(got_408, 1000);
  ASSERT_GT(latencies_ms.size(), 50U);
  const double p99 = healthz_probe::percentile(latencies_ms, 99);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_LT(p99, 50.0) << "normal clients starved by slowloris";
#else
  EXPECT_LT(p99, 1000.0) << "normal clients starved by slowloris (sanitizer build: loose bound)";
#endif
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}
