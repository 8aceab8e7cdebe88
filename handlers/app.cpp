#include "handlers/app.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "config/load.hpp"
#include "handlers/auth/key_authenticator.hpp"
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

scope_set scopes_of(const std::vector<std::string>& names) {
  scope_set set = 0;
  for (const auto& n : names) {
    if (const auto s = scope_named(n)) {
      set = set | *s;
    }
  }
  return set;
}

// Protected by default: without keys, evald serves anonymous clients only where no
// one else can reach it, unless the configuration says anonymous clients may.
std::unique_ptr<auth::key_authenticator> make_authenticator(const config::settings& settings,
                                                            server& srv) {
  const auto& a = settings.auth;
  if (!a.keys_file.empty() && !auth::digests_available()) {
    throw config::config_error(
        "/auth/keys_file: API keys need OpenSSL, which this build lacks; serve on loopback, or "
        "set auth.anonymous");
  }
  if (a.keys_file.empty() && !a.anonymous_set) {
    for (const auto& ep : srv.http_endpoints()) {
      if (!ep.address().is_loopback()) {
        throw config::config_error(
            "evald listens on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
            ", which is not loopback, and has no API keys: anyone who reaches it could run "
            "code. Either give it keys (auth.keys_file, or EVALD_KEYS_FILE; `evald keys new "
            "--tenant NAME --scopes eval,read` makes one), or say what a client without a key "
            "may do (auth.anonymous, e.g. [\"eval\", \"read\"])");
      }
    }
  }
  const scope_set anonymous =
      a.anonymous_set ? scopes_of(a.anonymous) : (a.keys_file.empty() ? all_scopes : scope_set{0});
  try {
    return std::make_unique<auth::key_authenticator>(a.keys_file, anonymous, srv.tenants());
  } catch (const std::invalid_argument& e) {
    throw config::config_error(std::string("/auth/keys_file: ") + e.what());
  }
}

}  // namespace

struct app::parts {
  explicit parts(const config::settings& s)
      : srv(s, routes),
        auth(make_authenticator(s, srv)),
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
  std::unique_ptr<auth::key_authenticator> auth;
  std::unique_ptr<backend> stores;  // after the server (its workers) and closed before it goes
  metrics_source metrics;
  std::unique_ptr<stats_hub> stats;
};

// SIGHUP: the keys file again, all or nothing.
void app::reload_keys(parts& p) {
  if (p.auth->keys_file().empty()) {
    return;
  }
  const std::string problem = p.auth->reload();
  if (problem.empty()) {
    spdlog::info("API keys reloaded: {} from {}", p.auth->key_count(), p.auth->keys_file());
  } else {
    spdlog::error("API keys not reloaded, the previous keys stay in force: {}", problem);
  }
}

app::app(const config::settings& settings) : parts_(std::make_unique<parts>(settings)) {
  auto& p = *parts_;
  p.srv.set_authenticator(*p.auth);
  if (!p.auth->keys_file().empty()) {
    spdlog::info("API keys: {} from {}", p.auth->key_count(), p.auth->keys_file());
  }
  p.srv.on_reload([&p] { reload_keys(p); });
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
  auto& p = *parts_;
  p.srv.on_reload([&p, reload = std::move(reload)] {
    reload_keys(p);
    reload();
  });
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
