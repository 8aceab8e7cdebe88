#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "server/handler.hpp"
#include "server/http_error.hpp"

namespace evald {

// An http_error as the response: its status, JSON body and headers.
void set_client_error(response& res, const http_error& e);

// Exact-path routing from method + path to a handler. Built once at start-up by
// register_routes(), then read-only: every worker reads it without locks.
class router {
 public:
  // GET routes answer HEAD too.
  void add(http::verb method, std::string path, handler h);
  // Every path that starts with `prefix` (e.g. "/jobs/" for /jobs/<id>); exact
  // paths win over prefixes. `label` names the route in metrics ("/jobs/{id}"),
  // never the raw path, so a client cannot create label values.
  void add_prefix(http::verb method, std::string prefix, std::string label, handler h);

  // The handler for this request, or nullptr after filling `res` with 404, 405
  // (with Allow), 501 or the OPTIONS answer. `route_index` is the matched route's
  // index in labels() (0 when no route matched).
  const handler* find(http::verb method, std::string_view path, response& res,
                      std::size_t& route_index) const;

  // Every method some route answers, for OPTIONS * ("GET, HEAD, POST, DELETE, OPTIONS").
  const std::string& server_allow() const noexcept { return server_allow_; }

  // Every (method, path) pair registered, as an OpenAPI document names them:
  // ("get", "/jobs/{id}"). HEAD and OPTIONS are implied, not listed.
  std::vector<std::pair<std::string, std::string>> operations() const;

  // Metric labels by route index; index 0 is "none" (no route: 404, bad requests).
  std::vector<std::string> labels() const;

  // Runs a handler and is the one place a failure becomes a JSON response:
  // http_error → its status; anything else → 500, logged with a request id.
  static void run_sync(const handler& h, request_context& ctx, response& res);
  static net::awaitable<void> run_async(const handler& h, request_context& ctx, response& res);

 private:
  struct route {
    std::string path;
    std::string label;
    std::vector<std::pair<http::verb, handler>> methods;
    std::string allow;  // "GET, HEAD, OPTIONS"
    bool prefix = false;
  };
  route& route_for(std::string path, std::string label, bool prefix);
  static void add_method(route& r, http::verb method, handler h);
  void update_server_allow();
  std::vector<route> routes_;
  std::string server_allow_ = "OPTIONS";
};

}  // namespace evald
