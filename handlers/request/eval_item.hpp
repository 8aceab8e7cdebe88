#pragma once
#include <cstdint>
#include <string>

#include <memory>
#include <nlohmann/json.hpp>

#include "config/settings.hpp"
#include "server/http_error.hpp"

#include "handlers/kernels/trial_division.hpp"

namespace evald {

struct script_spec;
struct detector_record;

// One workload of POST /eval: {"workload":"prime","n":"97","method":"trial"},
// {"workload":"factor","n":"12"} or {"workload":"script","source":"…","input":…}.
// Parsed on the request's worker; computed on any.
struct eval_item {
  enum class kind : std::uint8_t { invalid, prime_mr, prime_trial, factor, script, record };
  kind what = kind::invalid;
  std::uint64_t n = 0;
  std::optional<http_error> failure;          // for invalid items: the problem, naming the field
  std::shared_ptr<const script_spec> script;  // kind::script (shared by a map's inputs)
  nlohmann::json input;                       // kind::script
  std::shared_ptr<const detector_record> record;  // kind::record (a Log Detector payload)
};

// Where script items find their limits.
struct script_context {
  const config::settings& settings;
};

// Never throws for a bad item: the problem goes into `failure`, naming the field.
// Without `scripts`, a script item is an error.
eval_item parse_eval_item(const nlohmann::json& j, const std::string& path,
                          const script_context* scripts = nullptr);

}  // namespace evald
