#include "handlers/routes.hpp"

#include <cstdlib>
#include <string_view>

#include "handlers/endpoints.hpp"
#include "handlers/parallel_trial.hpp"

namespace evald {

void register_routes(router& routes, route_stores& stores, metrics_source& metrics,
                     bool cluster_mode, bool dashboard) {
  job_store& jobs = stores.jobs;
  script_store& scripts = stores.scripts;
  routes.add(http::verb::get, "/healthz", {.sync = endpoints::healthz});
  routes.add(http::verb::get, "/prime", {.async = endpoints::prime});
  routes.add(http::verb::get, "/chargen", {.sync = endpoints::chargen});
  routes.add(http::verb::get, "/factor", {.sync = endpoints::factor});
  routes.add(http::verb::post, "/eval", {.async = endpoints::eval, .data = &stores});
  routes.add(http::verb::post, "/eval-launch", {.async = endpoints::eval_launch, .data = &stores});
  routes.add(http::verb::get, "/readyz", {.async = endpoints::readyz, .data = &stores});
#if defined(EVALD_HAS_CLUSTER)
  if (cluster_mode) {
    routes.add(http::verb::get, "/jobs", {.async = endpoints::cluster_jobs, .data = &stores});
    routes.add_prefix(http::verb::get, "/jobs/", "/jobs/{id}",
                      {.async = endpoints::cluster_job, .data = &stores});
    routes.add_prefix(
        http::verb::delete_, "/jobs/", "/jobs/{id}",
        {.async = endpoints::cluster_job, .data = &stores, .own_preconditions = true});
  }
#endif
  if (!cluster_mode) {
    routes.add(http::verb::get, "/jobs", {.sync = endpoints::jobs, .data = &jobs});
    routes.add_prefix(http::verb::get, "/jobs/", "/jobs/{id}",
                      {.sync = endpoints::job, .data = &jobs});
    routes.add_prefix(http::verb::delete_, "/jobs/", "/jobs/{id}",
                      {.sync = endpoints::job, .data = &jobs, .own_preconditions = true});
  }
#if defined(EVALD_HAS_CLUSTER)
  if (cluster_mode) {
    // Named scripts live in Redis; every node runs the same script by name.
    routes.add(http::verb::get, "/scripts",
               {.async = endpoints::cluster_scripts_list, .data = &stores});
    routes.add_prefix(
        http::verb::put, "/scripts/", "/scripts/{name}",
        {.async = endpoints::cluster_script_put, .data = &stores, .own_preconditions = true});
    routes.add_prefix(http::verb::get, "/scripts/", "/scripts/{name}",
                      {.async = endpoints::cluster_script_get, .data = &stores});
    routes.add_prefix(
        http::verb::delete_, "/scripts/", "/scripts/{name}",
        {.async = endpoints::cluster_script_get, .data = &stores, .own_preconditions = true});
  }
#endif
  if (!cluster_mode) {
    routes.add(http::verb::get, "/scripts", {.sync = endpoints::scripts_list, .data = &scripts});
    routes.add_prefix(http::verb::put, "/scripts/", "/scripts/{name}",
                      {.sync = endpoints::script_put, .data = &scripts, .own_preconditions = true});
    routes.add_prefix(http::verb::get, "/scripts/", "/scripts/{name}",
                      {.sync = endpoints::script_get, .data = &scripts});
    routes.add_prefix(http::verb::delete_, "/scripts/", "/scripts/{name}",
                      {.sync = endpoints::script_get, .data = &scripts, .own_preconditions = true});
  }
  routes.add(http::verb::get, "/metrics", {.sync = endpoints::metrics, .data = &metrics});
  routes.add(http::verb::get, "/openapi.json", {.sync = endpoints::openapi});
  if (dashboard) {
    routes.add(http::verb::get, "/", {.sync = endpoints::dashboard_page, .data = &stores});
    routes.add(http::verb::get, "/stats", {.sync = endpoints::stats, .data = &stores});
    routes.add(http::verb::get, "/stats/stream",
               {.sync = endpoints::stats_stream, .data = &stores});
  }
  if (const char* hooks = std::getenv("EVALD_TEST_HOOKS");
      hooks != nullptr && std::string_view(hooks) == "1") {
    routes.add(http::verb::post, "/_test/hold", {.async = endpoints::test_hold});
    routes.add(http::verb::post, "/_test/release", {.sync = endpoints::test_release});
  }
  metrics.route_labels = routes.labels();
  trial_ns_per_candidate();  // calibrate chunk sizes now, not during the first request
}

}  // namespace evald
