#pragma once
#include "handlers/request/eval_request.hpp"
#include "server/handler.hpp"

namespace evald {

// The request of POST /eval or /eval-launch: Content-Type (415), ?timeout_ms= (the
// smaller of it and the body's wins; any other parameter is a 400), then the body
// (read_eval_body). Its named scripts are not resolved yet.
net::awaitable<eval_request> parse_eval_request(request_context& ctx, bool launch_route = false);

}  // namespace evald
