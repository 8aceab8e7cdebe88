#include "handlers/endpoints.hpp"
#include "handlers/job_store.hpp"
#include "handlers/params.hpp"
#include "handlers/routes.hpp"
#include "handlers/stats_hub.hpp"
#include "server/metrics_text.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {

// Prometheus scrape: counters are per worker and summed here, so the request hot
// path never touches a shared counter.
void metrics(request_context& ctx, response& res) {
  check_query_params(ctx.query, {});
  auto& source = *static_cast<metrics_source*>(ctx.route_data);
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body.reserve(16 * 1024);
  exposition_writer w(res.body);
  write_server_metrics(w, ctx.owner.peers(), source.route_labels, source.started);
  const auto jobs = source.jobs.count_by_state();
  w.family("evald_jobs", "gauge", "Launched jobs kept in the job store, by status.");
  for (std::size_t s = 0; s < jobs.size(); ++s) {
    w.sample("evald_jobs",
             exposition_writer::label("status", job_store::name(static_cast<job_store::state>(s))),
             jobs[s]);
  }
  if (source.stats == nullptr) {
    return;
  }
  if (const auto cluster = source.stats->cluster()) {
    w.family("evald_cluster_jobs", "gauge",
             "Cluster-wide jobs by status among the newest 1000 (surveyed once a second).");
    for (const auto& [status, n] : cluster->by_status) {
      w.sample("evald_cluster_jobs", exposition_writer::label("status", status), n);
    }
    w.family("evald_cluster_node_up", "gauge",
             "Nodes that announced themselves to the cluster in the last 10 s.");
    for (const auto& node : cluster->nodes) {
      w.sample("evald_cluster_node_up", exposition_writer::label("node", node), std::uint64_t{1});
    }
  }
  w.family("evald_dashboard_streams", "gauge", "Open /stats/stream subscriptions.");
  w.sample("evald_dashboard_streams", "", std::uint64_t{source.stats->subscribers()});
}

}  // namespace evald::endpoints
