#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "server/net.hpp"

namespace evald {

class worker;
struct worker_metrics;

// Starts serving one accepted socket on the worker it was accepted for.
using connection_starter = std::function<void(tcp::socket, worker&)>;

// Accepts on `acceptor` (owned by the first worker, used on its thread only) and
// hands each socket to the next worker round-robin, skipping a worker whose loop is
// stalled (busy and not turning for stall_after: one request must not take new
// connections down with it); the socket is created on that worker's io_context, so
// the connection never crosses threads. Past
// `max_connections` open connections, a new one gets 503 with Retry-After and is
// closed. EMFILE/ENFILE/ENOBUFS pause accepting briefly instead of spinning.
// Accepted and rejected connections are counted in `counts` (the metrics of the
// worker the acceptor runs on).
class listener {
 public:
  listener(tcp::acceptor& acceptor, std::vector<worker*> workers,
           std::atomic<std::uint32_t>& open_connections, std::uint32_t max_connections,
           connection_starter start, worker_metrics& counts);

  net::awaitable<void> accept_loop();
  // Drain: takes the connections the kernel has already completed (their clients
  // may have sent a request, and closing the listener would reset them), then
  // closes the listener. Call on the acceptor's thread, before the workers start
  // draining, so the taken connections are theirs when they do.
  void stop();

 private:
  void admit(tcp::socket socket, worker& target);
  // The next worker round-robin that is not stalled (the next one if all are).
  worker& pick();

  tcp::acceptor& acceptor_;
  std::vector<worker*> workers_;
  std::atomic<std::uint32_t>& open_connections_;
  std::uint32_t max_connections_;
  connection_starter start_;
  worker_metrics& counts_;
  std::size_t next_ = 0;
};

}  // namespace evald
