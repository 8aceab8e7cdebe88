#pragma once
#include <optional>
#include <string>
#include <vector>

#include "config/load.hpp"
#include "config/settings.hpp"

namespace evald::config {

struct cli_options {
  std::optional<std::string> config_path;
  std::vector<std::string> listen;  // repeatable; replaces the configured list when given
  std::optional<std::uint32_t> threads;
  std::optional<std::string> log_level;
  std::optional<std::string> access_log;
  std::optional<std::string> cluster;  // --cluster redis://IP:PORT
  std::optional<std::string> node_id;
  bool check_config = false;
  bool version = false;
  bool help = false;
};

// Throws config_error on an unknown flag or a bad value.
cli_options parse_cli(int argc, const char* const* argv);

// Built-in defaults < config file (--config or EVALD_CONFIG) < EVALD_* < flags; validated.
settings resolve_settings(const cli_options& cli, const env_lookup& getenv_fn);

std::string usage_text();

}  // namespace evald::config
