#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "server/net.hpp"

namespace evald {

class worker;
struct worker_metrics;
class tenant_account;

// One parallel job: chunks [0, chunk_count) run by one task per worker. Tasks claim
// chunks from a shared cursor in increasing order (dynamic self-scheduling: a slow
// chunk never strands the others), check the stop flag between chunks, and
// re-post themselves after each time slice so the worker's queued I/O runs in
// between. No thread is ever created; a busy server just queues the tasks.
// Shared by the requester and the tasks (shared_ptr); any worker may touch the atomics.
class parallel_job {
 public:
  // Runs (part of) one chunk, on any worker, concurrently with other chunks.
  // Returns true when the chunk is finished. A chunk that needs longer than a slice
  // saves its own progress and returns false once `slice_end` has passed; it is
  // called again for the same chunk on the same worker after I/O has had a turn.
  using chunk_function = std::function<bool(std::uint64_t chunk, parallel_job& job,
                                            std::chrono::steady_clock::time_point slice_end)>;

  parallel_job(std::uint64_t chunk_count, chunk_function fn, std::chrono::microseconds slice)
      : chunk_count_(chunk_count), fn_(std::move(fn)), slice_(slice) {}

  // Inside a chunk function only: which of the job's tasks runs it (0 .. tasks() - 1,
  // one task per worker, so per-task state needs no lock) and that worker's counters.
  static std::uint32_t current_task() noexcept;
  static worker_metrics& current_metrics() noexcept;
  // The stop flag itself, for work that polls it inside a chunk (script hooks).
  const std::atomic<bool>& stop_flag() const noexcept { return stop_; }
  // A single-chunk job's own estimate of how far its one chunk is (0..1), e.g. a
  // script's progress(); any thread.
  void report_progress(double fraction) noexcept {
    reported_.store(fraction, std::memory_order_relaxed);
  }

  // Ask every task to stop at its next chunk boundary (deadline, cancel, disconnect).
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }
  // Chunks at or above `limit` are skipped; chunks below it still run. Used for
  // "smallest answer wins": a hit in chunk k lowers the limit to k + 1.
  void lower_limit(std::uint64_t limit) noexcept;

  std::uint64_t chunk_count() const noexcept { return chunk_count_; }
  std::uint64_t chunks_done() const noexcept { return done_.load(std::memory_order_relaxed); }
  double progress() const noexcept {
    if (chunk_count_ == 1 && chunks_done() == 0) {
      return reported_.load(std::memory_order_relaxed);
    }
    return chunk_count_ == 0
               ? 1.0
               : static_cast<double>(chunks_done()) / static_cast<double>(chunk_count_);
  }
  std::chrono::nanoseconds cpu_time() const noexcept {
    return std::chrono::nanoseconds(cpu_ns_.load(std::memory_order_relaxed));
  }
  // Time the job's tasks spent queued behind other work, averaged per task.
  std::chrono::nanoseconds queue_time() const noexcept;
  std::uint32_t tasks() const noexcept { return tasks_; }

  // The tenant the job computes for: its slices share every worker with other
  // tenants' by weight, and their CPU time is charged to its compute quota. Before run().
  void set_tenant(std::shared_ptr<tenant_account> tenant) { tenant_ = std::move(tenant); }

  // A one-chunk job may first run on the requester's own thread, for at most
  // `budget`, before any task is posted: a tiny evaluation then costs no post, timer
  // or socket watch. True = the chunk finished (run() is not needed); false = it
  // kept its progress and run() continues it. Call at most once, before run(),
  // from the requester's worker.
  bool try_inline(std::chrono::steady_clock::time_point slice_end, worker_metrics& counts);

  // Posts one task to each worker, starting with workers[first] (the requester's
  // own, so a one-chunk job runs where its request is), and completes (on the
  // caller's executor) when the last task has finished. Call once, from a
  // coroutine on a worker.
  net::awaitable<void> run(std::span<worker* const> workers, std::size_t first = 0);

 private:
  // One slice of this job's task on the calling worker; true = wants another slice.
  bool run_slice(std::chrono::steady_clock::time_point& queued_since,
                 std::optional<std::uint64_t>& resume, worker_metrics& counts, std::uint32_t task,
                 std::chrono::nanoseconds& cpu);
  void finish_task();

  std::atomic<std::uint64_t> cursor_{0};
  std::atomic<std::uint64_t> limit_{UINT64_MAX};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::int64_t> cpu_ns_{0};
  std::atomic<std::int64_t> queue_ns_{0};
  std::atomic<std::uint32_t> tasks_left_{0};
  std::atomic<bool> stop_{false};
  std::atomic<double> reported_{0.0};
  std::uint64_t chunk_count_;
  chunk_function fn_;
  std::chrono::microseconds slice_;
  std::uint32_t tasks_ = 0;
  std::shared_ptr<tenant_account> tenant_;
  // The requester's wake-up timer is owned by the requester (its coroutine frame):
  // a job can outlive it at shutdown, and must never destroy an I/O object of
  // another worker's context.
  std::weak_ptr<net::steady_timer> finished_;
  net::any_io_executor finished_executor_;
  std::weak_ptr<parallel_job> self_;
  friend std::shared_ptr<parallel_job> make_parallel_job(std::uint64_t, chunk_function,
                                                         std::chrono::microseconds);
};

std::shared_ptr<parallel_job> make_parallel_job(std::uint64_t chunk_count,
                                                parallel_job::chunk_function fn,
                                                std::chrono::microseconds slice);

}  // namespace evald
