#include "handlers/app.hpp"

#include <stdexcept>

#include "config/load.hpp"
#include "handlers/cluster/redis_backend.hpp"
#include "handlers/dashboard/stats_hub.hpp"
#include "handlers/http/chargen_tcp.hpp"
#include "handlers/routes.hpp"
#include "handlers/store/memory_backend.hpp"
#include "server/router.hpp"
#include "server/server.hpp"

namespace evald {
namespace {

std::unique_ptr<backend> make_backend(const config::settings& settings, server& srv) {
  const auto workers = srv.workers();
  if (settings.cluster.redis.empty()) {
    return std::make_unique<memory_backend>(settings, workers);
  }
  try {
    return make_redis_backend(settings, workers,
                              {[&srv] { srv.hold_drain(); }, [&srv] { srv.release_drain(); }});
  } catch (const std::invalid_argument& e) {
    throw config::config_error(std::string("/cluster/redis: ") + e.what());
  }
}

}  // namespace

struct app::parts {
  explicit parts(const config::settings& s)
      : srv(s, routes),
        stores(make_backend(s, srv)),
        metrics{*stores, {}, std::chrono::system_clock::now(), nullptr} {
    if (s.dashboard.enabled) {
      stats = std::make_unique<stats_hub>(s, srv.workers(), *stores);
      metrics.stats = stats.get();
    }
    register_routes(routes, *stores, metrics, stats.get());
  }

  router routes;  // filled before the server runs, read-only after
  server srv;
  std::unique_ptr<backend> stores;  // after the server (its workers) and closed before it goes
  metrics_source metrics;
  std::unique_ptr<stats_hub> stats;
};

app::app(const config::settings& settings) : parts_(std::make_unique<parts>(settings)) {
  auto& p = *parts_;
  p.srv.on_chargen_connection(serve_chargen_tcp);
  p.srv.on_status([&p] { return p.stores->status_suffix(); });
  p.srv.on_drain([&p] {
    if (p.stats) {
      p.stats->stop();
    }
    p.stores->drain();
  });
}

app::~app() = default;

void app::on_reload(std::function<void()> reload) {
  parts_->srv.on_reload(std::move(reload));
}

int app::run() {
  auto& p = *parts_;
  p.stores->start();
  if (p.stats) {
    p.stats->start();
  }
  const int status = p.srv.run();
  p.stores->close();
  return status;
}

}  // namespace evald
