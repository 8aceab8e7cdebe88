#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace evald::test {

// What tests read from a running server besides the responses they asked for.

using metric_samples = std::map<std::string, double>;  // "name{labels}" → value

// Parses Prometheus text exposition (comments skipped).
metric_samples parse_metrics(const std::string& text);
// GET /metrics on a fresh connection; throws if it is not a 200.
metric_samples scrape_metrics(std::uint16_t port);
// The sum of every sample of the family `name` (all label sets).
double metric_total(const metric_samples& s, const std::string& name);

// Polls `done` every 20 ms until it is true or `limit` passes (waiting for the
// server to notice what a client did); the last call's answer.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10));

// Normal traffic during an attack: GET /healthz on one keep-alive connection
// about every 10 ms, each latency recorded; a failure counts as 1e9 ms.
class healthz_probe {
 public:
  explicit healthz_probe(std::uint16_t port);
  ~healthz_probe();
  healthz_probe(const healthz_probe&) = delete;
  healthz_probe& operator=(const healthz_probe&) = delete;

  // Stops the probe; its latencies in milliseconds, sorted.
  std::vector<double> stop();
  static double percentile(const std::vector<double>& sorted, double p);

 private:
  std::atomic<bool> stop_{false};
  std::vector<double> latencies_ms_;
  std::thread thread_;
};

}  // namespace evald::test
