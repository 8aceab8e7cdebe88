#include "server/listener.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "server/connection.hpp"
#include "server/http_date.hpp"
#include "server/response.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

// A connection over the cap: tell it why, then close without reading a request.
class rejected_connection final : public connection {
 public:
  rejected_connection(tcp::socket socket, worker& owner)
      : connection(std::move(socket), owner, false) {}

  net::awaitable<void> run() {
    response res;
    set_error(res, http::status::service_unavailable, "too_many_connections",
              "connection limit reached; retry later");
    res.add_header("Retry-After", "1");
    std::string out;
    append_head(out, res, true, false);
    out.append(res.body);
    wait_for(wait_phase::write, steady_clock::now() + std::chrono::seconds(5));
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(out), use_tuple);
    stop_waiting();
    if (!ec) {
      co_await linger_close(std::chrono::milliseconds(1000));
    }
  }
};

net::awaitable<void> reject(tcp::socket socket, worker& owner) {
  rejected_connection c(std::move(socket), owner);
  co_await c.run();
}

// Accept errors from the backend are plain errno values (system category).
bool is_resource_exhaustion(const error_code& ec) {
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

}  // namespace

listener::listener(tcp::acceptor& acceptor, std::vector<worker*> workers,
                   std::atomic<std::uint32_t>& open_connections, std::uint32_t max_connections,
                   connection_starter start, worker_metrics& counts)
    : acceptor_(acceptor),
      workers_(std::move(workers)),
      open_connections_(open_connections),
      max_connections_(max_connections),
      start_(std::move(start)),
      counts_(counts) {}

// A loop that has not turned for this long while busy is held by something (a slice
// is 250 µs and a loop turn under full load a few ms): new connections go elsewhere.
constexpr auto stall_after = std::chrono::milliseconds(10);

worker& listener::pick() {
  const auto now = steady_clock::now();
  for (std::size_t k = 0; k < workers_.size(); ++k) {
    const std::size_t i = (next_ + k) % workers_.size();
    if (!workers_[i]->stalled(now, stall_after)) {
      next_ = i;
      return *workers_[i];
    }
  }
  return *workers_[next_];
}

net::awaitable<void> listener::accept_loop() {
  net::steady_timer backoff(co_await net::this_coro::executor);
  auto last_warning = steady_clock::time_point{};
  for (;;) {
    worker* target = &pick();
    auto [ec, socket] = co_await acceptor_.async_accept(target->context(), use_tuple);
    if (!ec) {
      // The accept may have waited long: if its worker stalled meanwhile, the socket
      // moves to one that turns (its descriptor re-wrapped on that io_context).
      if (target->stalled(steady_clock::now(), stall_after)) {
        worker& other = pick();
        if (&other != target) {
          error_code move_ec;
          const auto protocol = socket.local_endpoint(move_ec).protocol();
          if (!move_ec) {
            const auto fd = socket.release(move_ec);
            if (!move_ec) {
              decltype(socket) moved(other.context());
              moved.assign(protocol, fd, move_ec);
              if (!move_ec) {
                socket = std::move(moved);
                target = &other;
              } else {
                socket.assign(protocol, fd, move_ec);  // stays where it was accepted
              }
            }
          }
        }
      }
      // Admitted even after stop(): the kernel completed it, so it is a client's.
      admit(std::move(socket), *target);
      continue;
    }
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
      co_return;
    }
    if (is_resource_exhaustion(ec)) {
      const auto now = steady_clock::now();
      if (now - last_warning > std::chrono::seconds(10)) {
        spdlog::warn("accept failed: {}; pausing accepts for 100 ms", ec.message());
        last_warning = now;
      }
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(use_tuple);
    }
    // ECONNABORTED and friends: the next connection is fine.
  }
}

void listener::stop() {
  error_code ec;
  acceptor_.non_blocking(true, ec);
  while (!ec) {
    worker& target = pick();
    tcp::socket socket = acceptor_.accept(target.context(), ec);
    if (!ec) {
      admit(std::move(socket), target);
    }
  }
  acceptor_.close(ec);
}

void listener::admit(tcp::socket socket, worker& target) {
  next_ = (next_ + 1) % workers_.size();
  counts_.connections_accepted.add();
  if (open_connections_.load(std::memory_order_relaxed) >= max_connections_) {
    counts_.connections_rejected.add();
    net::co_spawn(target.context(), reject(std::move(socket), target), net::detached);
    return;
  }
  open_connections_.fetch_add(1, std::memory_order_relaxed);
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  start_(std::move(socket), target);
}

}  // namespace evald
