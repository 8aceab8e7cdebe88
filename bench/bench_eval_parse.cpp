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
#include "handlers/request/eval_request.hpp"

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
    // The two halves: the JSON decode and the items' checks (a big body does both in
    // compute slices).
    std::vector<double> decode_ms;
    std::vector<double> interpret_ms;
    for (int run = 0; run < 5; ++run) {
      const auto t0 = std::chrono::steady_clock::now();
      evald::eval_body_decoder decoder(body);
      while (!decoder.advance(8 * 1024)) {
      }
      auto j = decoder.take();
      const auto t1 = std::chrono::steady_clock::now();
      const auto parsed = evald::interpret_eval_body(j, settings);
      j = nullptr;
      const auto t2 = std::chrono::steady_clock::now();
      decode_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      interpret_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      if (parsed.items.size() != items) {
        return 1;
      }
    }
    std::sort(decode_ms.begin(), decode_ms.end());
    std::sort(interpret_ms.begin(), interpret_ms.end());
    // As the server reads a big body: in 8 KiB steps, each a bounded stretch.
    double longest_step_us = 0;
    evald::eval_body_reader reader(body, settings, false);
    for (bool done = false; !done;) {
      const auto t0 = std::chrono::steady_clock::now();
      done = reader.advance(8 * 1024);
      longest_step_us = std::max(
          longest_step_us,
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    if (reader.take().items.size() != items) {
      return 1;
    }
    std::printf(
        "  %8zu %10zu %10.2f %10.0f   (decode %.2f ms + items %.2f ms; longest 8 KiB step "
        "%.0f µs)\n",
        items, body.size() / 1024, ms[2], ms[2] * 1e6 / static_cast<double>(items), decode_ms[2],
        interpret_ms[2], longest_step_us);
  }

  // One Log Detector record, as bench/detector_wrk.sh sends it (a 14-field log and one
  // Timed condition): the per-request parse cost of POST /eval {"payload":...}.
  const std::string record =
      R"({"payload":{"log":{"Text":"2026-12-01 17:20:03,118 INFO [Thread-7] ControlLoop - )"
      R"(Telescope reached park position after slew; dome shutter closed, tracking off\nsecond )"
      R"(line of the record","Thread":"Thread-7","Level":"INFO","Logger":"ControlLoop","Host":)"
      R"("tcs-01.obs","Service":"telescope-control","Pid":4211,"Timestamp":1764609603118,)"
      R"("Sequence":918273,"Component":"mount","Facility":"local3","Severity":6,"Site":)"
      R"("paranal","Source":"/var/log/tcs/telescope-control/control-loop.log"},"conditions":)"
      R"([{"numeration":1,"type":"Timed","timeRange":60000,"text":"if contains(text, \"park )"
      R"(position\") then data.parked = log.Sequence return true end return false"}],)"
      R"("context":{"machine":"park-watch","count":3},"trueConditions":[4,7],)"
      R"("stateTime":1764609600000,"logProcessingTime":1764609603200}})";
  constexpr int records = 200'000;
  const auto t = std::chrono::steady_clock::now();
  std::size_t parsed_items = 0;
  for (int i = 0; i < records; ++i) {
    parsed_items += evald::parse_eval_body(record, settings).items.size();
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t).count();
  if (parsed_items != records) {
    std::printf("parse_eval_body lost records\n");
    return 1;
  }
  std::printf("parse_eval_body, one Log Detector record (%zu bytes): %.0f ns per request\n",
              record.size(), ns / records);
}
