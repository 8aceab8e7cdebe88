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

// Accepts on `acceptor` (owned by the first worker) and hands each socket to the
// next worker round-robin; the socket is created on that worker's io_context, so
// the connection never crosses threads. Past `max_connections` open connections,
// a new one gets 503 with Retry-After and is closed. EMFILE/ENFILE/ENOBUFS pause
// accepting briefly instead of spinning.
// Accepted and rejected connections are counted in `counts` (the metrics of the
// worker the acceptor runs on).
net::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::vector<worker*> workers,
                                 std::atomic<std::uint32_t>& open_connections,
                                 std::uint32_t max_connections, connection_starter start,
                                 worker_metrics& counts);

}  // namespace evald
