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

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::vector<worker*> workers,
                                 std::atomic<std::uint32_t>& open_connections,
                                 std::uint32_t max_connections, connection_starter start,
                                 worker_metrics& counts) {
  std::size_t next = 0;
  net::steady_timer backoff(co_await net::this_coro::executor);
  auto last_warning = steady_clock::time_point{};
  for (;;) {
    worker& target = *workers[next];
    auto [ec, socket] = co_await acceptor.async_accept(target.context(), use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) {
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
      continue;  // ECONNABORTED and friends: the next connection is fine
    }
    next = (next + 1) % workers.size();
    counts.connections_accepted.add();
    if (open_connections.load(std::memory_order_relaxed) >= max_connections) {
      counts.connections_rejected.add();
      net::co_spawn(target.context(), reject(std::move(socket), target), net::detached);
      continue;
    }
    open_connections.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    start(std::move(socket), target);
  }
}

}  // namespace evald
