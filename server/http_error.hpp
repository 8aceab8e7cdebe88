#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

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
  http::status status;
  std::string code;                // machine-readable, snake_case: invalid_argument, not_found, ...
  std::string retry_after;         // sets a Retry-After header when not empty (503)
  std::optional<double> progress;  // adds "progress" beside "error" (504 deadline_exceeded)
  std::string server_timing;       // sets a Server-Timing header when not empty
  std::optional<int> line;         // adds "line" to the error object (a script's line)
  std::optional<std::int64_t> numeration;  // adds "numeration" (a Log Detector condition's)
  std::string full_message;
};

inline http_error bad_request(const std::string& message) {
  return {http::status::bad_request, "invalid_argument", message};
}

}  // namespace evald
