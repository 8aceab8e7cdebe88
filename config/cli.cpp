#include "config/cli.hpp"

#include <charconv>
#include <string_view>

namespace evald::config {

cli_options parse_cli(int argc, const char* const* argv) {
  cli_options out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline_value = false;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    auto take_value = [&]() -> std::string {
      if (has_inline_value) {
        return std::string(value);
      }
      if (i + 1 >= argc) {
        throw config_error(std::string(arg) + ": needs a value");
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c") {
      out.config_path = take_value();
    } else if (arg == "--listen" || arg == "-l") {
      std::string v = take_value();
      try {
        parse_endpoint(v);
      } catch (const config_error& e) {
        throw config_error(std::string("--listen: ") + e.what());
      }
      out.listen.push_back(std::move(v));
    } else if (arg == "--threads" || arg == "-t") {
      const std::string v = take_value();
      unsigned n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || ptr != v.data() + v.size() || n > 1024) {
        throw config_error("--threads: expected an integer from 0 to 1024, got \"" + v + "\"");
      }
      out.threads = n;
    } else if (arg == "--log-level") {
      std::string v = take_value();
      if (!is_log_level(v)) {
        throw config_error(
            "--log-level: expected trace, debug, info, warn, error, critical or off, got \"" + v +
            "\"");
      }
      out.log_level = std::move(v);
    } else if (arg == "--access-log") {
      std::string v = take_value();
      if (!is_access_format(v)) {
        throw config_error("--access-log: expected off, text or json, got \"" + v + "\"");
      }
      out.access_log = std::move(v);
    } else if (arg == "--cluster") {
      std::string v = take_value();
      if (!v.empty() && !v.starts_with("redis://") && !v.starts_with("unix:/")) {
        throw config_error("--cluster: expected redis://IP:PORT or unix:/path, got \"" + v + "\"");
      }
      out.cluster = std::move(v);
    } else if (arg == "--node-id") {
      out.node_id = take_value();
    } else if (arg == "--check-config") {
      out.check_config = true;
    } else if (arg == "--version" || arg == "-V") {
      out.version = true;
    } else if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else {
      throw config_error(std::string(arg) + ": unknown option (see --help)");
    }
  }
  return out;
}

settings resolve_settings(const cli_options& cli, const env_lookup& getenv_fn) {
  settings s;
  std::optional<std::string> path = cli.config_path;
  if (!path) {
    path = getenv_fn("EVALD_CONFIG");
  }
  if (path) {
    s = load_file(*path, std::move(s));
  }
  apply_environment(s, getenv_fn);
  if (!cli.listen.empty()) {
    s.listen = cli.listen;
    s.listen_tls.clear();
  }
  if (cli.threads) {
    s.threads = *cli.threads;
  }
  if (cli.log_level) {
    s.logging.level = *cli.log_level;
  }
  if (cli.access_log) {
    s.logging.access = *cli.access_log;
  }
  if (cli.cluster) {
    s.cluster.redis = *cli.cluster;
  }
  if (cli.node_id) {
    s.cluster.node_id = *cli.node_id;
  }
  validate(s);
  return s;
}

std::string usage_text() {
  return R"(Usage: evald [options]

An asynchronous HTTP/1.1 server that evaluates CPU workloads, one worker per core.

Options:
  -c, --config PATH      JSON config file (comments allowed); see config/evald.json
  -l, --listen HOST:PORT listen address, repeatable (127.0.0.1:8080, [::1]:8080;
                         port 0 picks a free port, printed on stdout)
  -t, --threads N        worker threads, 0 = one per core
      --log-level LEVEL  trace, debug, info, warn, error, critical or off
      --access-log FMT   off, text or json (JSON lines); see logging.access_file
      --cluster URL      cluster mode: jobs in Redis at redis://IP:PORT or unix:/path
      --node-id ID       this node's name in the cluster (default: host name and pid)
      --check-config     validate the configuration and exit (0 = valid, 2 = invalid)
  -V, --version          print the version and the I/O backend, then exit
  -h, --help             this text

Precedence: built-in defaults < config file < environment < flags.
Environment: EVALD_CONFIG, EVALD_LISTEN (comma-separated), EVALD_THREADS, EVALD_LOG_LEVEL,
             EVALD_ACCESS_LOG, EVALD_CLUSTER_REDIS, EVALD_CLUSTER_USER, EVALD_CLUSTER_PASSWORD,
             EVALD_NODE_ID, EVALD_KEYS_FILE, EVALD_ANONYMOUS (scopes of clients without a key).
Signals: SIGINT/SIGTERM drain gracefully (a second one exits at once); SIGHUP reopens the
         log files (logrotate), re-reads the log level from the config file and the keys
         file (all or nothing).
API keys: evald keys new --tenant NAME --scopes eval,read prints a new token (once) and
          the keys-file entry to add.
Under systemd: Type=notify (READY/RELOADING/STOPPING/STATUS/WATCHDOG) and socket
activation (listening sockets passed as LISTEN_FDS are used instead of --listen).
Exit status: 0 clean stop, 1 runtime failure, 2 configuration error,
             3 the I/O backend could not start (e.g. io_uring blocked by seccomp).
)";
}

}  // namespace evald::config
