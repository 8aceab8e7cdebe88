#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "handlers/eval_item.hpp"
#include "handlers/evaluation.hpp"

namespace evald {

// A parsed POST /eval (or /eval-launch) body.
struct eval_request {
  std::vector<eval_item> items;
  bool batch = false;                  // {"items":[...]} rather than one workload
  std::optional<std::uint64_t> chunk;  // items per chunk, overriding the automatic size
  std::optional<std::uint64_t> timeout_ms;
  bool detector = false;  // the Log Detector contract ({"payload"} or {"payloads"})
};

// Validates Content-Type (415), JSON (400 with the byte position), nesting depth,
// batch size (413). Bad items of a batch stay in their slots as errors.
// `scripts` resolves named scripts (null: none available).
// `launch_route`: the body came to /eval-launch (a payload then has a launchCondition).
eval_request parse_eval_request(request_context& ctx, const script_store* scripts,
                                bool launch_route = false);

// The body part of parse_eval_request (throws http_error); also the fuzz target's entry.
eval_request parse_eval_body(std::string_view body, const config::settings& settings,
                             const script_store* scripts = nullptr, bool launch_route = false);

// Computes every item over all workers; returns the response body.
net::awaitable<std::string> run_eval_request(evaluation& ev, const config::settings& settings,
                                             const eval_request& er);

}  // namespace evald
