#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "server/router.hpp"

namespace evald {

class backend;
class stats_hub;

// What GET /metrics reads besides the workers' counters.
struct metrics_source {
  backend& stores;                        // its own families (jobs, cluster links)
  std::vector<std::string> route_labels;  // filled by register_routes
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  stats_hub* stats = nullptr;  // the dashboard's sampler (null when off)
};

// Every endpoint, registered explicitly, once for every backend; called once before
// serving. `stores`, `metrics` and `stats` must outlive the server; `stats` null: no
// dashboard (/, /stats, /stats/stream).
void register_routes(router& routes, backend& stores, metrics_source& metrics, stats_hub* stats);

}  // namespace evald
