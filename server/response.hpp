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
  std::unique_ptr<body_stream> stream;
  std::optional<std::uint64_t> stream_length;  // Content-Length of a stream; none = chunked
  bool close = false;                          // close the connection after this response

  void reset() {
    status = http::status::ok;
    content_type = "application/json";
    body.clear();
    extra_headers.clear();
    stream.reset();
    stream_length.reset();
    close = false;
  }
  void add_header(std::string_view name, std::string_view value);
};

// {"error":{"status":N,"code":"...","message":"..."}} with the JSON safely escaped.
void set_error(response& res, http::status status, std::string_view code, std::string_view message,
               std::optional<double> progress = std::nullopt);

// Appends the status line and headers (Server, Date, Content-Type, framing,
// Connection) to out. keep_alive_header adds "Connection: keep-alive" (HTTP/1.0).
// Decimal digits of v, without allocating.
void append_number(std::string& out, std::uint64_t v);

void append_head(std::string& out, const response& res, bool close, bool keep_alive_header);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace evald
