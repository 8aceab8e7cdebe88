#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "handlers/sandbox/script_limits.hpp"
#include "handlers/sandbox/script_vm.hpp"
#include "server/http_error.hpp"

namespace evald {

// What to run: the source (inline, or a named script's at the time of the request)
// and the limits for this request. Shared by every input of a map.
struct script_spec {
  std::shared_ptr<const std::string> source;  // null: a named script not bound yet
  std::size_t source_hash = 0;                // of *source, to find a compiled state quickly
  std::string name;                           // the named script, or "" for inline source
  sandbox::script_limits limits;
};

// The configured limits (scripts.*).
sandbox::script_limits configured_script_limits(const config::settings& s);

// Reads "source" or "script" (exactly one) and "limits" from a workload object.
// Throws http_error: 400 (shape, a limit above the configured cap), 413 (source
// larger than scripts.max_source). A named script's spec has its name and no source
// yet: bind_named_scripts() gives it the source once the request is read.
std::shared_ptr<const script_spec> parse_script_spec(const nlohmann::json& j,
                                                     const config::settings& settings);

// The 404 for a name no script has.
http_error script_not_found(const std::string& name);

// The HTTP answer for a failed script: 400 script_syntax, 422 script_error /
// script_memory / script_result, 413 result_too_large.
http_error script_http_error(const sandbox::script_failure& f);
// {"error":{"status","code","message","line"}} for a batch or map slot.
std::string script_error_json(const sandbox::script_failure& f);

}  // namespace evald
