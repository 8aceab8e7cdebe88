#include "server/connection.hpp"

#include <algorithm>

#include "server/worker.hpp"

namespace evald {

connection::connection(tcp::socket socket, worker& owner, bool counted)
    : socket_(std::move(socket)), owner_(owner), counted_(counted) {
  owner_.attach(*this);
}

connection::~connection() {
  close_now();
  owner_.detach(*this, counted_);
}

void connection::expire() noexcept {
  timed_out_ = true;
  phase_ = wait_phase::none;
  error_code ec;
  socket_.cancel(ec);
}

void connection::on_drain() noexcept {
  if (phase_ != wait_phase::idle) {
    return;
  }
  const auto grace_end = owner_.drain_idle_deadline();
  if (grace_end > steady_clock::now()) {
    // The client may be sending its next request right now: give it the grace
    // (the sweep enforces it) rather than reset a request it has already sent.
    deadline_ = std::min(deadline_, grace_end);
    return;
  }
  drain_cancelled_ = true;
  error_code ec;
  socket_.cancel(ec);
}

void connection::force_close() noexcept {
  forced_ = true;
  error_code ec;
  // shutdown() makes pending reads and writes complete; close comes after them.
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.cancel(ec);
  on_forced();
}

bool connection::has_pending_input() noexcept {
  error_code ec;
  return socket_.is_open() && socket_.available(ec) > 0 && !ec;
}

void connection::close_now() noexcept {
  if (!socket_.is_open()) {
    return;
  }
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void connection::close_after_failed_write() noexcept {
  if (!timed_out_ || !socket_.is_open()) {
    close_now();
    return;
  }
  error_code ec;
  socket_.cancel(ec);
  socket_.set_option(net::socket_base::linger(true, 0), ec);
  socket_.close(ec);
}

net::awaitable<void> connection::linger_close(std::chrono::milliseconds timeout) {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!ec && !forced_) {
    // Bounded by time, not bytes: closing while a flooding client still sends
    // turns the close into a reset, which destroys responses it has not read yet.
    char sink[4096];
    wait_for(wait_phase::linger, steady_clock::now() + timeout);
    for (;;) {
      auto [rec, n] = co_await socket_.async_read_some(net::buffer(sink), use_tuple);
      if (rec) {
        break;
      }
    }
    stop_waiting();
  }
  close_now();
}

}  // namespace evald
