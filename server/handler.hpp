#pragma once
#include <string_view>

#include "config/settings.hpp"
#include "server/net.hpp"
#include "server/query.hpp"
#include "server/response.hpp"

namespace evald {

class worker;

// Everything a handler may look at for one request. Lives on the connection's
// worker for the duration of the call; handlers run on that worker only.
struct request_context {
  const request& req;
  std::string_view path;
  const query_params& query;
  worker& owner;
  const config::settings& settings;
};

// Two shapes: plain functions for answers computed at once (no coroutine frame on
// the hot path), coroutines for work that yields or waits. Both fill `res` or
// throw http_error.
using sync_handler = void (*)(request_context&, response&);
using async_handler = net::awaitable<void> (*)(request_context&, response&);

struct handler {
  sync_handler sync = nullptr;
  async_handler async = nullptr;
};

}  // namespace evald
