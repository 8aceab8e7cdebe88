#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "server/router.hpp"

namespace evald {

class job_store;
class script_store;

// The stores the handlers share; they outlive the server.
struct route_stores {
  job_store& jobs;
  script_store& scripts;
};

// What GET /metrics reads besides the workers' counters.
struct metrics_source {
  job_store& jobs;
  std::vector<std::string> route_labels;  // filled by register_routes
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
};

// Every endpoint, registered explicitly; called once from main before serving.
// `stores` and `metrics` must outlive the server.
void register_routes(router& routes, route_stores& stores, metrics_source& metrics);

}  // namespace evald
