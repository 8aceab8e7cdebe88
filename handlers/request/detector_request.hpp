#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "handlers/sandbox/script_vm.hpp"
#include "server/http_error.hpp"

// The Log Detector contract of POST /eval and /eval-launch: a body with a top-level
// "payload" (one log record) or "payloads" (a batch) instead of an evald workload
// (docs/log-detector.md).
namespace evald {

struct eval_request;
struct eval_item;

enum class condition_type : std::uint8_t { standard, timed, order };

struct detector_condition {
  std::int64_t numeration = 0;
  condition_type type = condition_type::standard;
  std::string text;                 // standard, timed: a Lua chunk or expression
  std::int64_t time_range = 0;      // timed, in ms
  std::vector<std::int64_t> order;  // order
};

// One payload, validated and ready to run on any worker.
struct detector_record {
  bool launch = false;  // /eval-launch: launch_condition instead of conditions
  nlohmann::json log;   // the record, its Text with every '\n' replaced by a space
  std::string text;     // that Text
  std::vector<detector_condition> conditions;
  nlohmann::json context = nlohmann::json::object();
  std::vector<std::int64_t> true_conditions;  // found true in earlier calls
  std::int64_t state_time = 0;                // stateTime (needed by Timed only)
  std::int64_t processing_time = 0;           // logProcessingTime (needed by Timed only)
  std::string launch_condition;
};

// Whether a parsed /eval body uses this contract.
bool is_detector_body(const nlohmann::json& body);

// {"payload":{…}} or {"payloads":[…]} (with optional "timeout_ms" and "chunk") into
// record items. A bad single payload throws http_error 400 naming the field (413 for
// a condition longer than scripts.max_source); a bad payload of a batch becomes an
// error in its slot.
// With `deferred_payloads`, a batch's payloads are left for the caller to read in
// steps with detector_batch_item (it points at them; otherwise it is null).
eval_request parse_detector_body(nlohmann::json& body, bool launch_route,
                                 const config::settings& settings,
                                 nlohmann::json** deferred_payloads = nullptr);

// Payload `i` of a batch as an item (its problem, if any, stays in its slot).
eval_item detector_batch_item(nlohmann::json& payload, std::size_t i, bool launch_route,
                              const config::settings& settings);

// A condition that could not be evaluated.
struct rule_failure {
  sandbox::script_failure failure;
  std::optional<std::int64_t> numeration;  // none: the launchCondition
  bool timeout = false;                    // ran past scripts.condition_time
};

// 400 condition_syntax, 422 condition_error / condition_memory / condition_result /
// condition_timeout; the message names the condition.
http_error rule_http_error(const rule_failure& f);
// The same as a batch slot: {"error":{"status","code","message","numeration","line"}}.
std::string rule_error_json(const rule_failure& f);

}  // namespace evald
