#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "server/router.hpp"

namespace evald {

class job_store;

// What GET /metrics reads besides the workers' counters.
struct metrics_source {
  job_store& jobs;
  std::vector<std::string> route_labels;  // filled by register_routes
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
};

// Every endpoint, registered explicitly; called once from main before serving.
// `jobs` and `metrics` must outlive the server.
void register_routes(router& routes, job_store& jobs, metrics_source& metrics);

}  // namespace evald
