#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "server/compute_scheduler.hpp"
#include "server/metrics.hpp"
#include "server/net.hpp"

namespace evald {

class connection;
class tenant_registry;
enum class wait_phase : std::uint8_t;

// One thread, one io_context (concurrency hint 1: on Linux its own io_uring, on
// Windows an IOCP with one active thread). Everything a connection does happens
// on its worker; other threads only post() to it.
class worker {
 public:
  // Throws boost::system::system_error when the I/O backend cannot start.
  worker(std::size_t index, std::atomic<std::uint32_t>& open_connections,
         std::chrono::milliseconds sweep_interval);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  std::size_t index() const noexcept { return index_; }

  // Whether this worker's loop has not turned for `after` while it was busy (not
  // waiting for I/O): a compute slice or handler that holds the thread. Any thread.
  // The acceptor gives new connections to other workers meanwhile.
  bool stalled(std::chrono::steady_clock::time_point now,
               std::chrono::nanoseconds after) const noexcept {
    return !waiting_.load(std::memory_order_relaxed) &&
           now.time_since_epoch().count() - last_turn_.load(std::memory_order_relaxed) >
               after.count();
  }
  net::io_context& context() noexcept { return *context_; }
  net::any_io_executor executor() noexcept { return context_->get_executor(); }

  // Runs the event loop (and queued compute) on the calling thread until stop().
  void run();
  // Starts a thread that calls run().
  void start_thread();
  void join();
  void stop();  // any thread

  // --- the rest: on this worker's thread only ---
  void attach(connection& c) noexcept;
  void detach(connection& c, bool counted) noexcept;
  std::size_t connection_count() const noexcept { return connection_count_; }
  bool draining() const noexcept { return draining_; }
  // Idle connections get until `idle_deadline` to send one more request, then
  // close; on_drained runs (on this worker) once no connection is left.
  void begin_drain(std::chrono::steady_clock::time_point idle_deadline,
                   std::function<void()> on_drained);
  // Until when an idle connection may still send a request during a drain.
  std::chrono::steady_clock::time_point drain_idle_deadline() const noexcept {
    return drain_idle_deadline_;
  }
  void force_close_all() noexcept;
  // Every worker of the process (this one included), for fanning work out.
  std::span<worker* const> peers() const noexcept { return peers_; }
  void set_peers(std::vector<worker*> peers) { peers_ = std::move(peers); }
  // Compute runs behind I/O: each queued item runs one bounded slice per turn and
  // says whether it wants another (round-robin over the items). The worker's loop
  // runs every ready handler and I/O completion first and then one slice, so a
  // light request waits for at most the slice in progress, however many jobs are
  // queued. Items of several tenants share the worker by weight (see
  // compute_scheduler); `tenant` nullptr is the server's own work and must otherwise
  // outlive the item. On this worker's thread only (other threads post() here).
  void enqueue_compute(compute_scheduler::slice slice, tenant_account* tenant = nullptr);
  // "fifo" instead of the fair share (tenants.scheduler); before the loop runs.
  void set_fair_share(bool fair) { compute_ = compute_scheduler(fair, index_); }
  // The server's tenants (a launched job finds the account of the tenant that launched
  // it); nullptr in tests that run workers without a server.
  void set_tenants(tenant_registry* tenants) noexcept { tenants_ = tenants; }
  tenant_registry* tenants() const noexcept { return tenants_; }

  // Evaluations admitted on this worker and not yet answered (admission control).
  std::uint32_t& evaluations_in_flight() noexcept { return evaluations_in_flight_; }

  // This worker's counters (written here only; any thread may read them).
  worker_metrics& metrics() noexcept { return *metrics_; }
  const worker_metrics& metrics() const noexcept { return *metrics_; }

  // "<worker>-<sequence>", for logs that must point at one request.
  std::string next_request_id();
  std::uint64_t next_request_sequence() noexcept { return ++request_sequence_; }

 private:
  void schedule_sweep();
  void run_compute_slice();
  void sweep() noexcept;
  void count_timeout(wait_phase phase) noexcept;
  void maybe_drained();

  std::size_t index_;
  std::atomic<std::uint32_t>& open_connections_;
  std::chrono::milliseconds sweep_interval_;
  std::unique_ptr<worker_metrics> metrics_ = std::make_unique<worker_metrics>();
  std::unique_ptr<net::io_context> context_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_guard_;
  std::optional<net::steady_timer> sweep_timer_;
  std::thread thread_;
  connection* connections_ = nullptr;
  std::size_t connection_count_ = 0;
  std::uint64_t request_sequence_ = 0;
  bool draining_ = false;
  std::chrono::steady_clock::time_point drain_idle_deadline_ =
      std::chrono::steady_clock::time_point::max();
  std::vector<worker*> peers_;
  compute_scheduler compute_{true, index_};
  tenant_registry* tenants_ = nullptr;
  std::uint32_t evaluations_in_flight_ = 0;
  std::function<void()> on_drained_;
  // Liveness for stalled(): when the loop last turned (steady clock ticks), and
  // whether it is blocked waiting for I/O.
  std::atomic<std::int64_t> last_turn_{0};
  std::atomic<bool> waiting_{false};
};

}  // namespace evald
