#include "handlers/routes.hpp"

#include "handlers/endpoints.hpp"

namespace evald {

void register_routes(router& routes) {
  routes.add(http::verb::get, "/healthz", {.sync = endpoints::healthz});
  routes.add(http::verb::get, "/prime", {.async = endpoints::prime});
  routes.add(http::verb::get, "/chargen", {.sync = endpoints::chargen});
}

}  // namespace evald
