#include "server/parallel.hpp"

#include <time.h>

#include "server/worker.hpp"

namespace evald {

std::chrono::nanoseconds thread_cpu_time() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

std::shared_ptr<parallel_job> make_parallel_job(std::uint64_t chunk_count,
                                                parallel_job::chunk_function fn,
                                                std::chrono::microseconds slice) {
  auto job = std::make_shared<parallel_job>(chunk_count, std::move(fn), slice);
  job->self_ = job;
  return job;
}

void parallel_job::lower_limit(std::uint64_t limit) noexcept {
  std::uint64_t current = limit_.load(std::memory_order_relaxed);
  while (limit < current &&
         !limit_.compare_exchange_weak(current, limit, std::memory_order_relaxed)) {
  }
}

std::chrono::nanoseconds parallel_job::queue_time() const noexcept {
  return tasks_ == 0 ? std::chrono::nanoseconds(0)
                     : std::chrono::nanoseconds(queue_ns_.load(std::memory_order_relaxed) / tasks_);
}

net::awaitable<void> parallel_job::run(std::span<worker* const> workers) {
  auto self = self_.lock();
  const auto executor = co_await net::this_coro::executor;
  finished_.emplace(executor, std::chrono::steady_clock::time_point::max());
  // No more tasks than chunks: an idle task would only cost a wake-up.
  tasks_ = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(workers.size(), std::max<std::uint64_t>(chunk_count_, 1)));
  tasks_left_.store(tasks_, std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < tasks_; ++i) {
    worker& w = *workers[i];
    net::post(w.context(), [self, &w, now] { run_task(self, w, now, std::nullopt); });
  }
  co_await finished_->async_wait(use_tuple);
}

void parallel_job::run_task(std::shared_ptr<parallel_job> self, worker& w,
                            std::chrono::steady_clock::time_point posted,
                            std::optional<std::uint64_t> resume) {
  parallel_job& job = *self;
  const auto start = std::chrono::steady_clock::now();
  job.queue_ns_.fetch_add((start - posted).count(), std::memory_order_relaxed);
  const auto slice_end = start + job.slice_;
  const auto cpu_start = thread_cpu_time();
  std::optional<std::uint64_t> unfinished;
  for (;;) {
    if (job.stop_requested()) {
      break;
    }
    std::uint64_t chunk = 0;
    if (resume) {
      chunk = *std::exchange(resume, std::nullopt);
    } else {
      chunk = job.cursor_.fetch_add(1, std::memory_order_relaxed);
      if (chunk >= job.chunk_count_ || chunk >= job.limit_.load(std::memory_order_relaxed)) {
        break;
      }
    }
    if (!job.fn_(chunk, job, slice_end)) {
      unfinished = chunk;
      break;
    }
    job.done_.fetch_add(1, std::memory_order_relaxed);
    if (std::chrono::steady_clock::now() >= slice_end) {
      break;
    }
  }
  job.cpu_ns_.fetch_add((thread_cpu_time() - cpu_start).count(), std::memory_order_relaxed);
  const bool more =
      !job.stop_requested() &&
      (unfinished || job.cursor_.load(std::memory_order_relaxed) <
                         std::min(job.chunk_count_, job.limit_.load(std::memory_order_relaxed)));
  if (more) {
    // Back of this worker's queue: I/O completions queued meanwhile run first.
    const auto now = std::chrono::steady_clock::now();
    net::post(w.context(), [self = std::move(self), &w, now, unfinished] {
      run_task(self, w, now, unfinished);
    });
    return;
  }
  job.finish_task();
}

void parallel_job::finish_task() {
  if (tasks_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // The requester's timer is only touched on its own executor.
    auto self = self_.lock();
    net::post(finished_->get_executor(), [self] { self->finished_->cancel(); });
  }
}

}  // namespace evald
