#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http/status.hpp>

namespace evald {

namespace http = boost::beast::http;

// The one exception handlers throw for a client-visible failure; the router turns
// it into {"error":{"status":...,"code":...,"message":...}}. Asio-free (the request
// layer and its fuzzers use it): the Beast status enum only.
struct http_error : std::runtime_error {
  http_error(http::status s, std::string c, const std::string& message)
      : std::runtime_error(message), status(s), code(std::move(c)), full_message(message) {}
  // The message whole: what() stops at the first NUL, and a script's error("a\0b")
  // must reach the client as "a\u0000b".
  const std::string& message() const noexcept { return full_message; }
  // Members a workload adds, as (name, JSON number text), in order: inside the error
  // object after "message" (a script's "line") or beside it (a deadline's "progress").
  // The server writes them without knowing what they mean.
  using fields = std::vector<std::pair<std::string, std::string>>;
  void add_detail(std::string name, std::int64_t value) {
    details.emplace_back(std::move(name), std::to_string(value));
  }
  void add_sibling(std::string name, double value) {
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
    siblings.emplace_back(std::move(name), std::string(buf, end));
  }
  http::status status;
  std::string code;              // machine-readable, snake_case: invalid_argument, not_found, ...
  std::string retry_after;       // sets a Retry-After header when not empty (503)
  std::string server_timing;     // sets a Server-Timing header when not empty
  std::string www_authenticate;  // sets a WWW-Authenticate header when not empty (401, 403)
  fields details;
  fields siblings;
  std::string full_message;
};

inline http_error bad_request(const std::string& message) {
  return {http::status::bad_request, "invalid_argument", message};
}

}  // namespace evald
