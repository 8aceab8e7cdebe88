#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "config/settings.hpp"
#include "server/auth.hpp"
#include "server/net.hpp"
#include "server/query.hpp"
#include "server/response.hpp"

namespace evald {

class worker;

// Lets a long evaluation learn that its client went away: once a handler asks, the
// session watches the socket until the handler returns. On the request's worker only.
class client_watch {
 public:
  // `on_gone` runs on this worker if the client closes or resets the connection
  // before the handler returns (EOF counts, as in nginx: nobody may read the answer).
  virtual void on_client_gone(std::function<void()> on_gone) = 0;
  virtual bool client_gone() const noexcept = 0;

 protected:
  ~client_watch() = default;
};

// Everything a handler may look at for one request. Lives on the connection's
// worker for the duration of the call; handlers run on that worker only.
struct request_context {
  const request& req;
  std::string_view path;
  const query_params& query;
  worker& owner;
  const config::settings& settings;
  client_watch& watch;
  void* route_data = nullptr;  // the `data` the route was bound to (read by route<> only)
  // Who sent it (routes that need a scope; nullptr on open routes).
  const caller* who = nullptr;
  // The tenant it acts for: the caller's, "anonymous" on an open route.
  std::string tenant() const;
  // CPU time of work done for this request outside the handler's own call (an
  // evaluation's chunks on every worker), added by the evaluation; for the access log.
  std::chrono::nanoseconds offloaded_cpu{0};
};

inline std::string request_context::tenant() const {
  return who != nullptr ? who->tenant : std::string("anonymous");
}

// Two shapes: plain functions for answers computed at once (no coroutine frame on
// the hot path), coroutines for work that yields or waits. Both fill `res` or
// throw http_error.
using sync_handler = void (*)(request_context&, response&);
using async_handler = net::awaitable<void> (*)(request_context&, response&);

struct handler {
  sync_handler sync = nullptr;
  async_handler async = nullptr;
  void* data = nullptr;  // the object the endpoint receives (see route<>)
  // Unsafe methods: the handler evaluates If-Match / If-None-Match itself (it knows
  // whether the resource exists); otherwise the session does, before calling it.
  bool own_preconditions = false;
  // The scopes a caller needs (any one; admin always does); 0 = open to anyone.
  scope_set needs = 0;
};

// The same handler, open only to callers holding one of `needs`.
inline handler needing(scope_set needs, handler h) {
  h.needs = needs;
  return h;
}
inline handler needing(scope needs, handler h) {
  return needing(static_cast<scope_set>(needs), h);
}

// Either "the handler judges If-Match / If-None-Match itself" or not.
enum class preconditions : bool { by_session, by_handler };

// A handler for `Endpoint`, a function (request_context&, response&) returning void
// (answered at once) or net::awaitable<void> (work that yields or waits).
template <auto Endpoint>
handler route(preconditions p = preconditions::by_session) {
  handler h;
  h.own_preconditions = p == preconditions::by_handler;
  if constexpr (std::is_void_v<
                    std::invoke_result_t<decltype(Endpoint), request_context&, response&>>) {
    h.sync = Endpoint;
  } else {
    h.async = Endpoint;
  }
  return h;
}

// The same for an endpoint that needs an object, (request_context&, response&, Data&):
// it receives `data` (which must outlive the server), typed and checked by the
// compiler. The one conversion from route_data happens here; no std::function.
template <auto Endpoint, class Data>
handler route(Data& data, preconditions p = preconditions::by_session) {
  handler h;
  h.own_preconditions = p == preconditions::by_handler;
  h.data = const_cast<void*>(static_cast<const void*>(&data));
  if constexpr (std::is_void_v<
                    std::invoke_result_t<decltype(Endpoint), request_context&, response&, Data&>>) {
    h.sync = [](request_context& ctx, response& res) {
      Endpoint(ctx, res, *static_cast<Data*>(ctx.route_data));
    };
  } else {
    h.async = [](request_context& ctx, response& res) -> net::awaitable<void> {
      return Endpoint(ctx, res, *static_cast<Data*>(ctx.route_data));
    };
  }
  return h;
}

}  // namespace evald
