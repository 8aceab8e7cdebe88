#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config/cli.hpp"
#include "handlers/app.hpp"
#include "handlers/auth/keys_command.hpp"
#include "server/logging.hpp"
#include "server/net.hpp"
#include "server/platform.hpp"
#include "server/server.hpp"

namespace {

std::optional<std::string> read_env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace evald;
  platform::init_process();
  if (argc >= 2 && std::string_view(argv[1]) == "keys") {
    return auth::run_keys_command(argc, argv);
  }

  config::cli_options cli;
  config::settings settings;
  try {
    cli = config::parse_cli(argc, argv);
    if (cli.help) {
      std::fputs(config::usage_text().c_str(), stdout);
      return 0;
    }
    if (cli.version) {
      std::printf("evald %s (backend %s)\n", EVALD_VERSION, backend_name);
      return 0;
    }
    settings = config::resolve_settings(cli, read_env);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "evald: configuration error: %s\n", e.what());
    return 2;
  }
  if (cli.check_config) {
    std::printf("evald: configuration OK\n");
    return 0;
  }

  try {
    init_logging(settings.logging);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evald: cannot open a log file: %s\n", e.what());
    return 2;
  }
  int status = 0;
  try {
    app evald(settings);
    evald.on_reload([&] {
      // Re-resolve as at start-up (file < environment < flags); only the level is
      // applied live. Anything else needs a restart (socket activation keeps the
      // listening sockets across one).
      const auto fresh = config::resolve_settings(cli, read_env);
      set_log_level(fresh.logging.level);
      spdlog::info("log level is {}", fresh.logging.level);
    });
    status = evald.run();
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "evald: configuration error: %s\n", e.what());
    status = 2;
  } catch (const backend_error& e) {
    spdlog::critical("{}", e.what());
    status = 3;
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    status = 1;
  }
  shutdown_logging();
  return status;
}
