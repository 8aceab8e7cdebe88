#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "server/handler.hpp"

namespace evald {

// Exact-path routing from method + path to a handler. Built once at start-up by
// register_routes(), then read-only: every worker reads it without locks.
class router {
 public:
  // GET routes answer HEAD too.
  void add(http::verb method, std::string path, handler h);
  // Every path that starts with `prefix` (e.g. "/jobs/" for /jobs/<id>); exact
  // paths win over prefixes.
  void add_prefix(http::verb method, std::string prefix, handler h);

  // The handler for this request, or nullptr after filling `res` with 404, 405
  // (with Allow), 501 or the OPTIONS answer.
  const handler* find(http::verb method, std::string_view path, response& res) const;

  // Runs a handler and is the one place a failure becomes a JSON response:
  // http_error → its status; anything else → 500, logged with a request id.
  static void run_sync(const handler& h, request_context& ctx, response& res);
  static net::awaitable<void> run_async(const handler& h, request_context& ctx, response& res);

 private:
  struct route {
    std::string path;
    std::vector<std::pair<http::verb, handler>> methods;
    std::string allow;  // "GET, HEAD, OPTIONS"
    bool prefix = false;
  };
  route& route_for(std::string path, bool prefix);
  static void add_method(route& r, http::verb method, handler h);
  std::vector<route> routes_;
};

}  // namespace evald
