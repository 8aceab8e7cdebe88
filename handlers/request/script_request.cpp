#include "handlers/request/script_request.hpp"
#include "handlers/json/error_json.hpp"
#include "handlers/request/script_catalog.hpp"

#include <stdexcept>
#include <string_view>

#include "config/units.hpp"

namespace evald {
namespace {

using json = nlohmann::json;

std::uint64_t read_limit(const json& limits, const char* key, std::uint64_t cap,
                         const char* config_key) {
  const auto it = limits.find(key);
  if (it == limits.end()) {
    return cap;
  }
  std::uint64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<std::uint64_t>();
  } else if (const auto* text = it->get_ptr<const std::string*>();
             text != nullptr && std::string_view(key) != "burst_ms") {
    // Sizes as the config writes them ("16MiB"); a plain number stays bytes. (get_ptr,
    // not get_ref: GCC 12 at -O3 sees a null dereference in get_ref here.)
    try {
      v = config::parse_size(*text);
    } catch (const std::invalid_argument&) {
      v = 0;
    }
  }
  if (v == 0) {
    throw bad_request(std::string("limits.") + key +
                      (std::string_view(key) == "burst_ms"
                           ? " must be a positive integer (milliseconds)"
                           : " must be a positive integer of bytes or a size such as \"1MiB\""));
  }
  if (v > cap) {
    throw bad_request(std::string("limits.") + key + " must be at most " + std::to_string(cap) +
                      " (" + config_key + ")");
  }
  return v;
}

}  // namespace

sandbox::script_limits configured_script_limits(const config::settings& s) {
  sandbox::script_limits l;
  l.memory_bytes = static_cast<std::size_t>(s.scripts.memory);
  l.burst = s.scripts.burst;
  l.max_result_bytes = static_cast<std::size_t>(s.scripts.max_result);
  l.max_log_bytes = static_cast<std::size_t>(s.scripts.max_log);
  return l;
}

std::shared_ptr<const script_spec> parse_script_spec(const json& j,
                                                     const config::settings& settings) {
  auto spec = std::make_shared<script_spec>();
  spec->limits = configured_script_limits(settings);
  const auto source = j.find("source");
  const auto name = j.find("script");
  if ((source == j.end()) == (name == j.end())) {
    throw bad_request(
        "a script workload needs exactly one of \"source\" (Lua text) and "
        "\"script\" (a name from PUT /scripts/<name>)");
  }
  if (source != j.end()) {
    if (!source->is_string()) {
      throw bad_request("source must be a string of Lua code");
    }
    const auto& text = source->get_ref<const std::string&>();
    if (text.size() > settings.scripts.max_source) {
      throw http_error(http::status::payload_too_large, "source_too_large",
                       "source is " + std::to_string(text.size()) +
                           " bytes; scripts.max_source is " +
                           std::to_string(settings.scripts.max_source));
    }
    spec->source = std::make_shared<const std::string>(text);
  } else {
    // (get_ptr, not get_ref: GCC 12 at -O3 sees a null dereference in get_ref here.)
    const auto* text = name->get_ptr<const std::string*>();
    if (text == nullptr || !valid_script_name(*text)) {
      throw bad_request("script must be a name of 1 to 64 characters from A-Z a-z 0-9 _ . -");
    }
    spec->name = name->get<std::string>();  // its source is bound once the request is read
  }
  if (spec->source) {
    spec->source_hash = std::hash<std::string>{}(*spec->source);
  }
  if (const auto limits = j.find("limits"); limits != j.end()) {
    if (!limits->is_object()) {
      throw bad_request("limits must be an object");
    }
    for (const auto& [key, _] : limits->items()) {
      if (key != "memory" && key != "burst_ms" && key != "result_bytes" && key != "log_bytes") {
        throw bad_request("unknown limit \"" + key +
                          "\" (allowed: memory, burst_ms, result_bytes, log_bytes)");
      }
    }
    auto& l = spec->limits;
    l.memory_bytes = static_cast<std::size_t>(
        read_limit(*limits, "memory", settings.scripts.memory, "scripts.memory"));
    const auto burst_cap_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(settings.scripts.burst).count());
    if (limits->contains("burst_ms")) {
      l.burst = std::chrono::milliseconds(read_limit(
          *limits, "burst_ms", std::max<std::uint64_t>(burst_cap_ms, 1), "scripts.burst"));
    }
    l.max_result_bytes = static_cast<std::size_t>(
        read_limit(*limits, "result_bytes", settings.scripts.max_result, "scripts.max_result"));
    if (limits->contains("log_bytes")) {
      l.max_log_bytes = static_cast<std::size_t>(
          read_limit(*limits, "log_bytes", settings.scripts.max_log, "scripts.max_log"));
    }
  }
  return spec;
}

bool valid_script_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string script_key(std::string_view ns, std::string_view name) {
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append(1, '/').append(name);
  return key;
}

std::string_view script_namespace(std::string_view key) noexcept {
  const auto slash = key.find('/');
  return slash == std::string_view::npos ? std::string_view() : key.substr(0, slash);
}

std::string_view script_short_name(std::string_view key) noexcept {
  const auto slash = key.find('/');
  return slash == std::string_view::npos ? key : key.substr(slash + 1);
}

std::pair<std::uint64_t, std::uint64_t> script_catalog::usage(std::string_view ns,
                                                              std::string_view except) const {
  // Keys of one namespace sort together: "<ns>/" up to "<ns>0" ('0' follows '/').
  std::string first(ns);
  first += '/';
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  for (auto it = entries.lower_bound(first); it != entries.end() && it->first.starts_with(first);
       ++it) {
    if (it->first != except) {
      ++count;
      bytes += it->second.source->size();
    }
  }
  return {count, bytes};
}

http_error script_not_found(const std::string& name) {
  return http_error(http::status::not_found, "script_not_found",
                    "no script named \"" + name +
                        "\" in the caller's namespace or the shared one (PUT /scripts/" + name +
                        " stores one)");
}

http_error script_http_error(const sandbox::script_failure& f) {
  using kind = sandbox::script_failure::kind;
  http::status status = http::status::unprocessable_entity;
  std::string code = "script_error";
  switch (f.what) {
    case kind::syntax:
      status = http::status::bad_request;
      code = "script_syntax";
      break;
    case kind::memory:
      code = "script_memory";
      break;
    case kind::result:
      code = "script_result";
      break;
    case kind::result_too_large:
      status = http::status::payload_too_large;
      code = "result_too_large";
      break;
    case kind::runtime:
    case kind::burst:
    case kind::stopped:
      break;
  }
  http_error e(status, code, f.message);
  if (f.line) {
    e.add_detail("line", *f.line);
  }
  return e;
}

std::string script_error_json(const sandbox::script_failure& f) {
  return error_json(script_http_error(f));
}

}  // namespace evald
