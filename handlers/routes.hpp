#pragma once
#include "server/router.hpp"

namespace evald {

class job_store;

// Every endpoint, registered explicitly; called once from main before serving.
// `jobs` must outlive the server.
void register_routes(router& routes, job_store& jobs);

}  // namespace evald
