#pragma once
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "config/settings.hpp"

namespace evald::config {

// A start-up configuration problem; the message starts with the JSON path or the
// flag / variable at fault. main() prints it and exits with status 2.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Applies the keys present in `j` over `base`. Unknown keys, wrong types and
// out-of-range values throw config_error naming the JSON path.
settings from_json(const nlohmann::json& j, settings base = {});

// One tenant's limits (`tenants.default` here, a tenant of the keys file's "tenants"):
// the members present in `j` over `base`; throws config_error naming the path.
tenant_limits read_tenant_limits(const nlohmann::json& j, const std::string& path,
                                 tenant_limits base);

// Reads a JSON file (comments allowed) and applies it over `base`.
settings load_file(const std::string& path, settings base = {});

// EVALD_LISTEN (comma-separated), EVALD_THREADS, EVALD_LOG_LEVEL over `s`.
using env_lookup = std::function<std::optional<std::string>(const char*)>;
void apply_environment(settings& s, const env_lookup& getenv_fn);

// Cross-field and value checks; throws config_error.
void validate(const settings& s);

struct endpoint_text {
  std::string host;  // IPv4 or IPv6 literal, without brackets
  std::uint16_t port = 0;
};
// "127.0.0.1:8080", "[::1]:8080", "localhost:8080", "*:8080" (all IPv4), "[::]:8080".
endpoint_text parse_endpoint(std::string_view text);

bool is_log_level(std::string_view level);
bool is_access_format(std::string_view format);  // off, text, json
bool is_header_value(std::string_view value);    // printable ASCII, no edge spaces

}  // namespace evald::config
