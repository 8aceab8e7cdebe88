#pragma once
#include "server/router.hpp"

namespace evald {

// Every endpoint, registered explicitly; called once from main before serving.
void register_routes(router& routes);

}  // namespace evald
