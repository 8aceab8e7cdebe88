#include "server/parallel.hpp"

#include "server/metrics.hpp"
#include "server/platform.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {

std::shared_ptr<parallel_job> make_parallel_job(std::uint64_t chunk_count,
                                                parallel_job::chunk_function fn,
                                                std::chrono::microseconds slice) {
  auto job = std::make_shared<parallel_job>(chunk_count, std::move(fn), slice);
  job->self_ = job;
  return job;
}

namespace {
// Set around each call of a chunk function (see current_task()).
thread_local std::uint32_t running_task = 0;
thread_local worker_metrics* running_metrics = nullptr;
}  // namespace

std::uint32_t parallel_job::current_task() noexcept {
  return running_task;
}

worker_metrics& parallel_job::current_metrics() noexcept {
  return *running_metrics;
}

void parallel_job::lower_limit(std::uint64_t limit) noexcept {
  std::uint64_t current = limit_.load(std::memory_order_relaxed);
  while (limit < current &&
         !limit_.compare_exchange_weak(current, limit, std::memory_order_relaxed)) {
  }
}

bool parallel_job::try_inline(std::chrono::steady_clock::time_point slice_end,
                              worker_metrics& counts) {
  if (chunk_count_ != 1 || stop_requested()) {
    return false;
  }
  running_task = 0;  // the task run() would post first runs on this same worker
  running_metrics = &counts;
  if (!fn_(0, *this, slice_end)) {
    return false;
  }
  cursor_.store(1, std::memory_order_relaxed);
  done_.store(1, std::memory_order_relaxed);
  counts.chunks_run.add();
  return true;
}

std::chrono::nanoseconds parallel_job::queue_time() const noexcept {
  return tasks_ == 0 ? std::chrono::nanoseconds(0)
                     : std::chrono::nanoseconds(queue_ns_.load(std::memory_order_relaxed) / tasks_);
}

net::awaitable<void> parallel_job::run(std::span<worker* const> workers, std::size_t first) {
  auto self = self_.lock();
  const auto executor = co_await net::this_coro::executor;
  const auto finished =
      std::make_shared<net::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
  finished_ = finished;
  finished_executor_ = executor;
  // No more tasks than chunks: an idle task would only cost a wake-up.
  tasks_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(workers.size(), std::max<std::uint64_t>(chunk_count_, 1)));
  tasks_left_.store(tasks_, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < tasks_; ++i) {
    worker& w = *workers[(first + i) % workers.size()];
    net::post(w.context(), [self, &w, now, i] {
      w.metrics().evaluations_computing.add();
      w.enqueue_compute(
          [self, counts = &w.metrics(), queued_since = now, resume = std::optional<std::uint64_t>(),
           i](std::chrono::nanoseconds& cpu) mutable {
            return self->run_slice(queued_since, resume, *counts, i, cpu);
          },
          self->tenant_.get());
    });
  }
  co_await finished->async_wait(use_tuple);
}

bool parallel_job::run_slice(std::chrono::steady_clock::time_point& queued_since,
                             std::optional<std::uint64_t>& resume, worker_metrics& counts,
                             std::uint32_t task, std::chrono::nanoseconds& cpu_used) {
  running_task = task;
  running_metrics = &counts;
  const auto start = std::chrono::steady_clock::now();
  queue_ns_.fetch_add((start - queued_since).count(), std::memory_order_relaxed);
  const auto slice_end = start + slice_;
  const auto cpu_start = platform::thread_cpu_time();
  for (;;) {
    if (stop_requested()) {
      resume.reset();
      break;
    }
    std::uint64_t chunk = 0;
    if (resume) {
      chunk = *std::exchange(resume, std::nullopt);
    } else {
      chunk = cursor_.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= chunk_count_ || chunk >= limit_.load(std::memory_order_relaxed)) {
        break;
      }
    }
    if (!fn_(chunk, *this, slice_end)) {
      resume = chunk;  // unfinished: continue it in this task's next slice
      break;
    }
    done_.fetch_add(1, std::memory_order_relaxed);
    counts.chunks_run.add();
    if (std::chrono::steady_clock::now() >= slice_end) {
      break;
    }
  }
  const auto end = std::chrono::steady_clock::now();
  const std::int64_t cpu = (platform::thread_cpu_time() - cpu_start).count();
  cpu_ns_.fetch_add(cpu, std::memory_order_relaxed);
  counts.compute_ns.add(static_cast<std::uint64_t>(cpu));
  cpu_used = std::chrono::nanoseconds(cpu);  // the scheduler charges it to the tenant
  const bool more = !stop_requested() &&
                    (resume || cursor_.load(std::memory_order_relaxed) <
                                   std::min(chunk_count_, limit_.load(std::memory_order_relaxed)));
  if (more) {
    queued_since = end;
    return true;
  }
  counts.evaluations_computing.sub();
  finish_task();
  return false;
}

void parallel_job::finish_task() {
  if (tasks_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // The requester's timer is only touched on its own executor, and only if the
    // requester still exists.
    net::post(finished_executor_, [timer = finished_] {
      if (const auto t = timer.lock()) {
        t->cancel();
      }
    });
  }
}

}  // namespace evald
