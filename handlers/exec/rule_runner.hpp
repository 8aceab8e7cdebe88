#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "handlers/request/detector_request.hpp"
#include "server/parallel.hpp"

namespace evald {

struct rule_state;

// A record being evaluated: where it stopped when its slice ended.
struct record_progress {
  std::size_t next = 0;               // the condition to run next
  nlohmann::json context;             // after the conditions found true so far
  std::vector<std::int64_t> found;    // numerations true in this call, in order
  std::unique_ptr<rule_state> state;  // held while the record runs (a condition may yield)
  bool running = false;               // a condition's run is in the state, mid-way
  record_progress();
  ~record_progress();
};

// Runs Log Detector records in Lua rule states. Each worker keeps a state (two at
// most, when a condition is parked mid-run) whose compiled conditions are cached by
// their text (scripts.condition_cache entries, least recently used dropped), so a
// record costs building its tables and the calls. Every run gets a fresh environment;
// a state that hit its memory cap, was killed or grew past half its cap is closed.
class rule_runner {
 public:
  explicit rule_runner(const config::settings& settings);

  // Evaluates record `r` for one slice. Returns false if the slice ended first (call
  // again with the same `progress`); true when done: `out` holds the answer's JSON,
  // or `failure` says which condition failed and why.
  bool run(const detector_record& r, std::unique_ptr<record_progress>& progress, parallel_job& job,
           std::chrono::steady_clock::time_point slice_end, std::string& out,
           std::optional<rule_failure>& failure) const;

 private:
  sandbox::script_limits limits_;
  std::chrono::nanoseconds condition_time_;
  std::size_t cache_entries_;
};

// Whether `order` appears as a contiguous run in `earlier` followed by `now`
// (integers compared, not their digits). An empty order is always found.
bool order_found(const std::vector<std::int64_t>& order, const std::vector<std::int64_t>& earlier,
                 const std::vector<std::int64_t>& now);

}  // namespace evald
