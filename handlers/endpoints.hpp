#pragma once
#include "server/handler.hpp"

// One glue function per endpoint: parse and validate input, call the kernel, build
// the response. Each runs on the connection's worker.
namespace evald::endpoints {

void healthz(request_context& ctx, response& res);
net::awaitable<void> prime(request_context& ctx, response& res);
void chargen(request_context& ctx, response& res);

}  // namespace evald::endpoints
