#include "handlers/routes.hpp"

#include <cstdlib>
#include <string_view>

#include "handlers/dashboard/stats_hub.hpp"
#include "handlers/exec/parallel_trial.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/store/backend.hpp"

namespace evald {

void register_routes(router& routes, backend& stores, metrics_source& metrics, stats_hub* stats) {
  using namespace endpoints;
  constexpr auto own = preconditions::by_handler;
  // The scopes each route needs (admin always may); /healthz, /readyz and the API
  // document stay open. A key with `eval` reads and cancels its own jobs too.
  constexpr scope_set jobs_read = scope::eval | scope::read;
  routes.add(http::verb::get, "/healthz", route<healthz>());
  routes.add(http::verb::get, "/readyz", route<readyz>(stores));
  routes.add(http::verb::get, "/prime", needing(scope::eval, route<prime>()));
  routes.add(http::verb::get, "/chargen", needing(scope::eval, route<chargen>()));
  routes.add(http::verb::get, "/factor", needing(scope::eval, route<factor>()));
  routes.add(http::verb::post, "/eval", needing(scope::eval, route<eval>(stores)));
  routes.add(http::verb::post, "/eval-launch", needing(scope::eval, route<eval_launch>(stores)));
  routes.add(http::verb::get, "/jobs", needing(jobs_read, route<jobs>(stores)));
  routes.add_prefix(http::verb::get, "/jobs/", "/jobs/{id}",
                    needing(jobs_read, route<job>(stores)));
  routes.add_prefix(http::verb::delete_, "/jobs/", "/jobs/{id}",
                    needing(scope::eval, route<job_delete>(stores, own)));
  routes.add(http::verb::get, "/scripts", needing(scope::read, route<scripts_list>(stores)));
  routes.add_prefix(http::verb::put, "/scripts/", "/scripts/{name}",
                    needing(scope::scripts_write, route<script_put>(stores, own)));
  routes.add_prefix(http::verb::get, "/scripts/", "/scripts/{name}",
                    needing(scope::read, route<script_get>(stores)));
  routes.add_prefix(http::verb::delete_, "/scripts/", "/scripts/{name}",
                    needing(scope::scripts_write, route<script_delete>(stores, own)));
  routes.add(http::verb::get, "/metrics",
             needing(scope::metrics, route<endpoints::metrics>(metrics)));
  routes.add(http::verb::get, "/openapi.json", route<openapi>());
  if (stats != nullptr) {
    routes.add(http::verb::get, "/", needing(scope::metrics, route<dashboard_page>(*stats)));
    routes.add(http::verb::get, "/stats", needing(scope::metrics, route<endpoints::stats>(*stats)));
    routes.add(http::verb::get, "/stats/stream",
               needing(scope::metrics, route<stats_stream>(*stats)));
  }
  if (const char* hooks = std::getenv("EVALD_TEST_HOOKS");
      hooks != nullptr && std::string_view(hooks) == "1") {
    routes.add(http::verb::post, "/_test/hold", route<test_hold>());
    routes.add(http::verb::post, "/_test/release", route<test_release>());
  }
  metrics.route_labels = routes.labels();
  trial_ns_per_candidate();  // calibrate chunk sizes now, not during the first request
}

}  // namespace evald
