// GET /metrics: Prometheus text format (checked by promtool), counters that move by
// exactly what known requests should add, and a scrape taken under load.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using namespace std::chrono_literals;

namespace {

double delta(const metric_samples& before, const metric_samples& after, const std::string& key) {
  const auto a = after.find(key);
  EXPECT_NE(a, after.end()) << "missing sample " << key;
  const auto b = before.find(key);
  return (a == after.end() ? 0.0 : a->second) - (b == before.end() ? 0.0 : b->second);
}

std::string promtool() {
  const auto r = run_program("/bin/bash", {EVALD_SOURCE_DIR "/scripts/promtool.sh"});
  if (r.status != 0) {
    throw std::runtime_error("cannot get promtool: " + r.err);
  }
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace

TEST(Metrics, TextFormatHeadersAndFamilies) {
  evald_process server;
  const auto res = get(server.port(), "/metrics");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* family : {"evald_build_info",
                             "evald_requests_total",
                             "evald_request_duration_seconds",
                             "evald_requests_in_flight",
                             "evald_connections_open",
                             "evald_connections_accepted_total",
                             "evald_connections_rejected_total",
                             "evald_worker_busy_seconds_total",
                             "evald_worker_queued_tasks",
                             "evald_evaluation_wall_seconds_total",
                             "evald_evaluation_cpu_seconds_total",
                             "evald_chunks_total",
                             "evald_jobs",
                             "evald_chargen_sent_bytes_total",
                             "evald_admission_rejections_total",
                             "evald_timeouts_total",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_open_fds",
                             "process_start_time_seconds"}) {
    EXPECT_NE(res.body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  const auto s = parse_metrics(res.body);
  EXPECT_EQ(s.at(R"(evald_build_info{version="0.1.0",backend="io_uring",os="Linux"})"), 1);
  EXPECT_GT(s.at("process_resident_memory_bytes"), 1e6);
  // Histogram buckets are cumulative and end in +Inf == _count.
  EXPECT_EQ(s.at(R"(evald_request_duration_seconds_bucket{route="/healthz",le="+Inf"})"),
            s.at(R"(evald_request_duration_seconds_count{route="/healthz"})"));
  EXPECT_TRUE(
      s.contains(R"(evald_request_duration_seconds_bucket{route="/healthz",le="0.00005"})"));
  EXPECT_TRUE(s.contains(R"(evald_request_duration_seconds_bucket{route="/healthz",le="10"})"));
}

TEST(Metrics, CountersMoveByWhatKnownRequestsAdd) {
  evald_process server;
  const auto port = server.port();
  const auto before = scrape_metrics(port);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(get(port, "/healthz").status, 200);
  }
  ASSERT_EQ(get(port, "/healthz", "DELETE").status, 405);
  ASSERT_EQ(get(port, "/nope").status, 404);
  ASSERT_EQ(get(port, "/jobs/0123456789abcdef0123456789abcdef").status, 404);
  ASSERT_EQ(get(port, "/chargen?bytes=4096").status, 200);
  ASSERT_EQ(get(port, "/prime?n=100109100129100151&method=trial").status, 200);
  const auto after = scrape_metrics(port);

  EXPECT_EQ(delta(before, after, R"(evald_requests_total{route="/healthz",code="2xx"})"), 5);
  EXPECT_EQ(delta(before, after, R"(evald_requests_total{route="/healthz",code="4xx"})"), 1);
  EXPECT_EQ(delta(before, after, R"(evald_requests_total{route="none",code="4xx"})"), 1);
  // A job id is never a label: the route template is.
  EXPECT_EQ(delta(before, after, R"(evald_requests_total{route="/jobs/{id}",code="4xx"})"), 1);
  EXPECT_EQ(delta(before, after, R"(evald_request_duration_seconds_count{route="/healthz"})"), 6);
  EXPECT_EQ(delta(before, after, R"(evald_chargen_sent_bytes_total{transport="http"})"), 4096);
  EXPECT_EQ(delta(before, after, "evald_evaluations_total"), 1);
  EXPECT_GT(delta(before, after, "evald_chunks_total"), 10);
  EXPECT_GT(delta(before, after, "evald_evaluation_cpu_seconds_total"), 0);
  // Ten requests and the second scrape, one connection each.
  EXPECT_EQ(delta(before, after, "evald_connections_accepted_total"), 11);
  // The scrape itself is the one request in flight.
  EXPECT_EQ(after.at("evald_requests_in_flight"), 1);
  EXPECT_GT(after.at(R"(evald_worker_busy_seconds_total{worker="0"})") +
                after.at(R"(evald_worker_busy_seconds_total{worker="1"})"),
            0.01);
  EXPECT_EQ(after.find(R"(evald_requests_total{route="/nope",code="4xx"})"), after.end());
}

TEST(Metrics, TimeoutsAndJobsAreCounted) {
  evald_process::options opts;
  opts.config_json = R"({"timeouts": {"header": "300ms"}})";
  evald_process server(opts);
  const auto port = server.port();
  {
    http_client c(port);
    c.send("GET /healthz HTTP/1.1\r\nHo");  // never finished
    const auto res = c.read_response();
    ASSERT_TRUE(res.has_value());
    ASSERT_EQ(res->status, 408);
  }
  http_client c(port);
  const std::string body = R"({"workload":"prime","n":"97"})";
  c.send(
      "POST /eval-launch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_EQ(c.read_response()->status, 202);
  metric_samples s;
  for (int i = 0; i < 200; ++i) {  // the job finishes on a worker: poll, bounded
    s = scrape_metrics(port);
    if (s.at(R"(evald_jobs{status="done"})") == 1) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(s.at(R"(evald_jobs{status="done"})"), 1);
  EXPECT_EQ(s.at(R"(evald_timeouts_total{kind="header"})"), 1);
  EXPECT_EQ(s.at(R"(evald_requests_total{route="none",code="4xx"})"), 1);  // the 408
}

TEST(Metrics, PromtoolAcceptsAScrapeTakenUnderLoad) {
  const std::string tool = promtool();
  evald_process server;
  const auto port = server.port();
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> load;
  for (const char* target :
       {"/healthz", "/prime?n=1000000007&method=trial", "/chargen?bytes=65536", "/nope"}) {
    load.emplace_back([&, target] {
      http_client c(port);
      while (!stop) {
        c.send(get_request(target));
        if (!c.read_response()) {
          break;
        }
        ++answered;
      }
    });
  }
  while (answered < 200) {
    std::this_thread::yield();
  }
  const auto res = get(port, "/metrics");
  stop = true;
  for (auto& t : load) {
    t.join();
  }
  ASSERT_EQ(res.status, 200);
  const std::string file = write_temp_file(res.body, ".prom");
  const auto check = run_program("/bin/sh", {"-c", tool + " check metrics < " + file});
  EXPECT_EQ(check.status, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "");  // no lint warnings either
  const auto s = parse_metrics(res.body);
  EXPECT_GE(s.at(R"(evald_requests_total{route="/healthz",code="2xx"})"), 1);
  EXPECT_GE(s.at("evald_connections_open"), 5);
}
