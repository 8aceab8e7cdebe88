#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "server/router.hpp"

namespace evald {

class job_store;
class script_store;
class cluster_node;
class stats_hub;

// The stores the handlers share; they outlive the server.
struct route_stores {
  job_store& jobs;
  script_store& scripts;
  // Cluster mode: set before the server runs (null: jobs live in `jobs`).
  cluster_node* cluster = nullptr;
  // The dashboard's figures: set before the server runs (null: dashboard off).
  stats_hub* stats = nullptr;
};

// What GET /metrics reads besides the workers' counters.
struct metrics_source {
  job_store& jobs;
  std::vector<std::string> route_labels;  // filled by register_routes
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  // The dashboard's sampler (null when off): in cluster mode, the cluster-wide job
  // counts and live nodes it surveyed, so /metrics has everything the page shows.
  stats_hub* stats = nullptr;
};

// Every endpoint, registered explicitly; called once from main before serving.
// `stores` and `metrics` must outlive the server.
// `cluster_mode`: launched jobs live in Redis (stores.cluster is set before serving).
// `dashboard`: /, /stats and /stats/stream (stores.stats is set before serving).
void register_routes(router& routes, route_stores& stores, metrics_source& metrics,
                     bool cluster_mode = false, bool dashboard = false);

}  // namespace evald
