#include "tests/integration/probes.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>

#include "tests/integration/http_client.hpp"

namespace evald::test {

metric_samples parse_metrics(const std::string& text) {
  metric_samples out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

metric_samples scrape_metrics(std::uint16_t port) {
  const auto res = get(port, "/metrics");
  if (res.status != 200) {
    throw std::runtime_error("GET /metrics answered " + std::to_string(res.status));
  }
  return parse_metrics(res.body);
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling interval
  }
  return done();
}

double metric_total(const metric_samples& s, const std::string& name) {
  double total = 0;
  for (const auto& [key, value] : s) {
    if (key == name || key.starts_with(name + "{")) {
      total += value;
    }
  }
  return total;
}

healthz_probe::healthz_probe(std::uint16_t port) {
  thread_ = std::thread([this, port] {
    using steady = std::chrono::steady_clock;
    try {
      http_client c(port, std::chrono::seconds(5));
      while (!stop_) {
        const auto t = steady::now();
        c.send(get_request("/healthz"));
        const auto res = c.read_response();
        if (!res || res->status != 200) {
          latencies_ms_.push_back(1e9);
          return;
        }
        latencies_ms_.push_back(
            std::chrono::duration<double, std::milli>(steady::now() - t).count());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the probe's pace
      }
    } catch (const std::exception&) {
      latencies_ms_.push_back(1e9);
    }
  });
}

healthz_probe::~healthz_probe() {
  if (thread_.joinable()) {
    stop();
  }
}

std::vector<double> healthz_probe::stop() {
  stop_ = true;
  thread_.join();
  std::sort(latencies_ms_.begin(), latencies_ms_.end());
  return latencies_ms_;
}

double healthz_probe::percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 1e9;
  }
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

}  // namespace evald::test
