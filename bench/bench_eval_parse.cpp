// POST /eval body decoding alone (no server): parse_eval_body on batches of 1,000 to
// 100,000 items. It runs on a worker's I/O thread, so its cost per item must stay
// flat as batches grow (the callback parser used before was quadratic).
// Run: ./build/release/bench/bench_eval_parse
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "handlers/eval_request.hpp"

int main() {
  evald::config::settings settings;
  std::printf("command: ./build/release/bench/bench_eval_parse\n");
  std::printf(
      "parse_eval_body, factor items {\"workload\":\"factor\",\"n\":\"<20 digits>\"}, "
      "median of 5 runs:\n");
  std::printf("  %8s %10s %10s %10s\n", "items", "body KiB", "ms", "ns/item");
  for (const std::size_t items : {1'000UL, 10'000UL, 100'000UL}) {
    std::string body = R"({"items":[)";
    for (std::size_t i = 0; i < items; ++i) {
      body += (i ? "," : "") + std::string(R"({"workload":"factor","n":"18446744073709551557"})");
    }
    body += "]}";
    std::vector<double> ms;
    for (int run = 0; run < 5; ++run) {
      const auto t = std::chrono::steady_clock::now();
      const auto parsed = evald::parse_eval_body(body, settings);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
      if (parsed.items.size() != items) {
        std::printf("parse_eval_body returned %zu items\n", parsed.items.size());
        return 1;
      }
    }
    std::sort(ms.begin(), ms.end());
    std::printf("  %8zu %10zu %10.2f %10.0f\n", items, body.size() / 1024, ms[2],
                ms[2] * 1e6 / static_cast<double>(items));
  }
}
