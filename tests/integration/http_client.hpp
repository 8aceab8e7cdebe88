#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evald::test {

struct http_response {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Value of the first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

// A blocking TCP client on 127.0.0.1 with its own small HTTP/1.1 response parser
// (independent of Beast, so it can judge the server's bytes). Every read has a
// timeout, so a test fails instead of hanging.
class http_client {
 public:
  explicit http_client(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  void send(std::string_view bytes);
  // Reads one response. nullopt when the connection closed (or failed) before
  // any byte of it arrived. head: the request was HEAD (no body follows).
  std::optional<http_response> read_response(bool head = false);
  // Reads and discards until EOF; true if EOF (or reset) came before `limit` bytes
  // and before the timeout.
  bool read_until_closed(std::size_t limit = 1 << 20);
  // Reads exactly n raw bytes (or fewer on EOF/timeout).
  std::string read_raw(std::size_t n);
  void shutdown_write();
  int fd() const { return fd_; }

 private:
  bool fill();  // reads more into buffer_; false on EOF/error/timeout
  bool read_line(std::string& line);

  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection: "GET target HTTP/1.1" with Host and Connection: close.
http_response get(std::uint16_t port, std::string_view target, std::string_view method = "GET");

std::string get_request(std::string_view target, std::string_view extra_headers = "");

}  // namespace evald::test
