#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/handler.hpp"
#include "server/parallel.hpp"

namespace evald {

// The bookkeeping around one evaluation request, on the request's worker:
// admission (a bounded count per worker → 503 overloaded with Retry-After), the
// deadline (?timeout_ms, capped by limits.max_eval_time → 504 with progress),
// cancellation when the client leaves, and Server-Timing (wall, CPU summed over
// workers, queue). Lives in the handler's coroutine frame.
class evaluation {
 public:
  // Throws http_error 503 when this worker is at limits.max_evaluations.
  evaluation(request_context& ctx, std::optional<std::uint64_t> timeout_ms);
  // For work without a waiting client (launched jobs): no disconnect watch.
  evaluation(worker& owner, const config::settings& settings,
             std::optional<std::uint64_t> timeout_ms,
             std::shared_ptr<tenant_account> tenant = nullptr);
  ~evaluation();
  evaluation(const evaluation&) = delete;
  evaluation& operator=(const evaluation&) = delete;

  // Runs `job` on every worker under the deadline and the disconnect watch. Throws
  // 504 deadline_exceeded (with the job's progress) if the deadline stopped it.
  net::awaitable<void> run(std::shared_ptr<parallel_job> job);

  // Runs a one-chunk job's first stretch right here (at most eval.slice / 4, so a
  // burst of requests cannot hold the worker's other I/O for long): true if that
  // finished it, and run() is then not needed.
  bool try_inline(parallel_job& job);

  // Called with each job just before it starts (launched jobs record it for
  // progress reports and DELETE).
  std::function<void(std::shared_ptr<parallel_job>)> on_job;

  // CPU time spent on the request's own worker outside parallel jobs.
  void add_local_cpu(std::chrono::nanoseconds cpu) noexcept { cpu_ += cpu; }
  std::chrono::nanoseconds wall() const noexcept;
  // Workers a parallel job of this evaluation may use (one task each).
  std::size_t workers() const noexcept;
  std::chrono::nanoseconds cpu() const noexcept { return cpu_; }
  std::string server_timing() const;
  // Sets the Server-Timing header on a successful response.
  void finish(response& res) const;

 private:
  worker& owner_;
  const config::settings& settings_;
  client_watch* watch_;
  std::chrono::nanoseconds* cpu_report_ = nullptr;  // the request's offloaded_cpu
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::nanoseconds cpu_{0};
  std::chrono::nanoseconds queue_{0};
  std::shared_ptr<tenant_account> tenant_;  // whose share and quota it uses (nullptr: none)
};

// "wall;dur=…, cpu;dur=…, queue;dur=…" in milliseconds, as every evaluation reports.
std::string format_server_timing(std::chrono::nanoseconds wall, std::chrono::nanoseconds cpu,
                                 std::chrono::nanoseconds queue);
// Server-Timing for an answer computed inline since `start` (Miller-Rabin, factor).
void add_inline_server_timing(response& res, std::chrono::steady_clock::time_point start);

}  // namespace evald
