#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/body_stream.hpp"
#include "server/net.hpp"

namespace evald {

// What a handler fills in. One per connection, reset between requests, so its
// strings keep their capacity and a steady stream of requests allocates nothing.
struct response {
  http::status status = http::status::ok;
  std::string_view content_type = "application/json";
  std::string body;
  std::string extra_headers;  // complete "Name: value\r\n" lines
  // Strong entity tag with its quotes ("\"…\""); sent as ETag and compared by the
  // session's precondition check (RFC 9110 §13). Empty = no validator.
  std::string etag;
  // Cache-Control value for a cacheable answer (kept on a 304); empty = none.
  std::string_view cache_control;
  std::unique_ptr<body_stream> stream;
  std::optional<std::uint64_t> stream_length;  // Content-Length of a stream; none = chunked
  bool close = false;                          // close the connection after this response

  void reset() {
    status = http::status::ok;
    content_type = "application/json";
    body.clear();
    extra_headers.clear();
    etag.clear();
    cache_control = {};
    stream.reset();
    stream_length.reset();
    close = false;
  }
  void add_header(std::string_view name, std::string_view value);
};

// {"error":{"status":N,"code":"...","message":"..."}} with the JSON safely escaped.
// `line` (a script's line) goes inside the error object, `progress` beside it.
// `details` go inside the error object after "message", `siblings` beside it (name,
// JSON number text).
void set_error(response& res, http::status status, std::string_view code, std::string_view message,
               const std::vector<std::pair<std::string, std::string>>& details = {},
               const std::vector<std::pair<std::string, std::string>>& siblings = {});

// 304 Not Modified for the representation `res` describes: its ETag and
// Cache-Control stay, its body and every other header go (RFC 9110 §15.4.5).
void set_not_modified(response& res);
// 412 Precondition Failed, as a JSON error.
void set_precondition_failed(response& res);

// Appends the status line and headers (Server, Date, Content-Type, framing,
// Connection, ETag) to out; 1xx, 204 and 304 carry neither Content-Type nor
// Content-Length (RFC 9110 §8.6, §15.4.5). keep_alive_header adds "Connection: keep-alive"
// (HTTP/1.0). Decimal digits of v, without allocating.
void append_number(std::string& out, std::uint64_t v);

void append_head(std::string& out, const response& res, bool close, bool keep_alive_header);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace evald
