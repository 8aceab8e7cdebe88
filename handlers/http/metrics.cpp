#include "handlers/dashboard/stats_hub.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/routes.hpp"
#include "handlers/store/backend.hpp"
#include "server/metrics_text.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {

// Prometheus scrape: counters are per worker and summed here, so the request hot
// path never touches a shared counter.
void metrics(request_context& ctx, response& res, metrics_source& source) {
  check_query_params(ctx.query, {});
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body.reserve(16 * 1024);
  exposition_writer w(res.body);
  write_server_metrics(w, ctx.owner.peers(), source.route_labels, source.started);
  source.stores.write_metrics(w);
  if (ctx.owner.tenants() != nullptr) {
    write_tenant_metrics(w, *ctx.owner.tenants());
  }
  if (source.stats == nullptr) {
    return;
  }
  w.family("evald_dashboard_streams", "gauge", "Open /stats/stream subscriptions.");
  w.sample("evald_dashboard_streams", "", std::uint64_t{source.stats->subscribers()});
}

}  // namespace evald::endpoints
