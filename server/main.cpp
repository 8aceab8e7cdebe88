#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstdlib>

#include "config/cli.hpp"
#include "handlers/job_store.hpp"
#if defined(EVALD_HAS_CLUSTER)
#include "handlers/cluster_node.hpp"
#endif
#include "handlers/routes.hpp"
#include "handlers/script_store.hpp"
#include "handlers/stats_hub.hpp"
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
    router routes;
    job_store jobs(settings.jobs.max, settings.jobs.ttl, settings.jobs.max_result_bytes);
    memory_script_store scripts(settings.scripts.max_named);
    route_stores stores{jobs, scripts};
    metrics_source metrics{jobs, {}, std::chrono::system_clock::now()};
    const bool cluster_mode = !settings.cluster.redis.empty();
#if !defined(EVALD_HAS_CLUSTER)
    if (cluster_mode) {
      std::fprintf(stderr,
                   "evald: configuration error: cluster mode is not built on this platform\n");
      return 2;
    }
#endif
    register_routes(routes, stores, metrics, cluster_mode, settings.dashboard.enabled);
    server srv(settings, routes);
    // The dashboard's sampler (once a second on worker 0), when the dashboard is on.
    std::unique_ptr<stats_hub> stats;
    if (settings.dashboard.enabled) {
      stats = std::make_unique<stats_hub>(settings, srv.workers(), jobs);
      stores.stats = stats.get();
      metrics.stats = stats.get();
    }
#if defined(EVALD_HAS_CLUSTER)
    // After the server (its workers' io_contexts) and closed before it goes.
    std::unique_ptr<cluster_node> cluster;
    if (cluster_mode) {
      try {
        cluster = std::make_unique<cluster_node>(settings, srv.workers(), scripts);
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "evald: configuration error: /cluster/redis: %s\n", e.what());
        return 2;
      }
      stores.cluster = cluster.get();
      cluster->set_drain_hooks([&srv] { srv.hold_drain(); }, [&srv] { srv.release_drain(); });
      cluster->start();
      if (stats) {
        stats->set_cluster(cluster.get());
      }
    }
#endif
    if (stats) {
      stats->start();
    }
    srv.on_drain([&] {
      if (stats) {
        stats->stop();
      }
#if defined(EVALD_HAS_CLUSTER)
      if (cluster) {
        // Running cluster jobs stop and go back to the queue; the drain waits for that.
        cluster->stop_fetching();
      }
#endif
      // Launched jobs have no connection to drain: they are cancelled (and say so
      // in /jobs/<id> while the process lives) rather than silently dropped.
      for (const auto& id : jobs.cancel_all()) {
        spdlog::info("job {} cancelled by the shutdown", id);
      }
    });
    srv.on_reload([&] {
      // Re-resolve as at start-up (file < environment < flags); only the level is
      // applied live. Anything else needs a restart (socket activation keeps the
      // listening sockets across one).
      const auto fresh = config::resolve_settings(cli, read_env);
      set_log_level(fresh.logging.level);
      spdlog::info("log level is {}", fresh.logging.level);
    });
    status = srv.run();
#if defined(EVALD_HAS_CLUSTER)
    if (cluster) {
      cluster->close();
    }
#endif
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
