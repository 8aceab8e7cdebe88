#include "tests/integration/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace evald::test {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) {
      return v;
    }
  }
  return "";
}

bool http_response::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) {
      return true;
    }
  }
  return false;
}

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) {
    throw std::runtime_error("socket failed");
  }
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd_);
    throw std::runtime_error(std::string("connect failed: ") + std::strerror(err));
  }
}

http_client::~http_client() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void http_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void http_client::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool http_client::fill() {
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

bool http_client::read_line(std::string& line) {
  for (;;) {
    const auto pos = buffer_.find("\r\n");
    if (pos != std::string::npos) {
      line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 2);
      return true;
    }
    if (!fill()) {
      return false;
    }
  }
}

std::string http_client::read_raw(std::size_t n) {
  while (buffer_.size() < n && fill()) {
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, out.size());
  return out;
}

std::optional<http_response> http_client::read_response(bool head) {
  http_response res;
  std::string line;
  for (;;) {
    if (buffer_.empty() && !fill()) {
      return std::nullopt;
    }
    if (!read_line(line)) {
      throw std::runtime_error("connection closed inside a status line");
    }
    // "HTTP/1.1 200 OK"
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) {
      throw std::runtime_error("bad status line: " + line);
    }
    res.status = std::stoi(line.substr(9, 3));
    res.reason = line.size() > 13 ? line.substr(13) : "";
    res.headers.clear();
    for (;;) {
      if (!read_line(line)) {
        throw std::runtime_error("connection closed inside the headers");
      }
      if (line.empty()) {
        break;
      }
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        throw std::runtime_error("bad header line: " + line);
      }
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') {
        value.erase(0, 1);
      }
      res.headers.emplace_back(line.substr(0, colon), value);
    }
    if (res.status >= 200) {
      break;  // 1xx interim responses are skipped
    }
  }
  if (head || res.status == 204 || res.status == 304) {
    return res;
  }
  if (iequals(res.header("Transfer-Encoding"), "chunked")) {
    for (;;) {
      if (!read_line(line)) {
        throw std::runtime_error("connection closed inside a chunk header");
      }
      const std::size_t size = std::stoul(line, nullptr, 16);
      if (size == 0) {
        if (!read_line(line) || !line.empty()) {
          throw std::runtime_error("bad chunked trailer");
        }
        break;
      }
      std::string data = read_raw(size);
      if (data.size() != size) {
        throw std::runtime_error("connection closed inside a chunk");
      }
      res.body += data;
      if (read_raw(2) != "\r\n") {
        throw std::runtime_error("chunk not followed by CRLF");
      }
    }
  } else if (res.has_header("Content-Length")) {
    const std::size_t size = std::stoull(res.header("Content-Length"));
    res.body = read_raw(size);
    if (res.body.size() != size) {
      throw std::runtime_error("connection closed inside the body");
    }
  } else {
    while (fill()) {
    }
    res.body = std::move(buffer_);
    buffer_.clear();
  }
  return res;
}

bool http_client::read_until_closed(std::size_t limit) {
  std::size_t total = buffer_.size();
  buffer_.clear();
  char buf[65536];
  while (total < limit) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) {
      return true;
    }
    if (n < 0) {
      return errno == ECONNRESET;
    }
    total += static_cast<std::size_t>(n);
  }
  return false;
}

std::string get_request(std::string_view target, std::string_view extra_headers) {
  std::string r = "GET ";
  r.append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n").append(extra_headers).append("\r\n");
  return r;
}

http_response get(std::uint16_t port, std::string_view target, std::string_view method) {
  http_client c(port);
  std::string r(method);
  r.append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  c.send(r);
  auto res = c.read_response(method == "HEAD");
  if (!res) {
    throw std::runtime_error("no response");
  }
  return *res;
}

}  // namespace evald::test
