#include "handlers/exec/parallel_trial.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "handlers/kernels/trial_division.hpp"
#include "server/platform.hpp"

namespace evald {

double trial_ns_per_candidate() {
  static const double measured = [] {
    // A prime near 10^17, so no early exit; best of 5 short runs.
    constexpr std::uint64_t n = 100109100129100151ULL;
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      const auto t = std::chrono::steady_clock::now();
      const auto r = kernels::scan_divisors(n, 1'000'000, 1'000'000 + 30 * 2048);
      const double ns = static_cast<double>((std::chrono::steady_clock::now() - t).count()) /
                        static_cast<double>(std::max<std::uint64_t>(r.divisors_checked, 1));
      best = std::min(best, ns);
    }
    return std::max(best, 0.1);
  }();
  return measured;
}

net::awaitable<trial_outcome> parallel_trial_division(evaluation& ev,
                                                      const config::settings& settings,
                                                      std::uint64_t n) {
  trial_outcome out;
  out.workers = 1;
  if (n < 2) {
    co_return out;
  }
  const auto cpu_start = platform::thread_cpu_time();
  const std::uint64_t end = kernels::isqrt_u64(n) + 1;
  for (std::uint64_t p : {2ULL, 3ULL, 5ULL}) {
    if (p >= end) {
      break;
    }
    ++out.divisors_checked;
    if (n % p == 0) {
      out.factor = p;
      ev.add_local_cpu(platform::thread_cpu_time() - cpu_start);
      co_return out;
    }
  }
  // Serial pre-check: a small factor is found faster than a fan-out costs.
  const std::uint64_t pre_hi =
      end <= 7 ? end : std::clamp<std::uint64_t>(settings.eval.trial_precheck, 7, end);
  if (pre_hi > 7) {
    const auto r = kernels::scan_divisors(n, 7, pre_hi);
    out.divisors_checked += r.divisors_checked;
    out.factor = r.factor;
  }
  ev.add_local_cpu(platform::thread_cpu_time() - cpu_start);
  if (out.factor != 0 || pre_hi >= end) {
    out.prime = out.factor == 0;
    co_return out;
  }

  const trial_outcome range = co_await parallel_trial_range(ev, settings, n, pre_hi, end);
  out.workers = range.workers;
  out.chunks = range.chunks;
  out.divisors_checked += range.divisors_checked;
  out.factor = range.factor;
  out.prime = out.factor == 0;
  co_return out;
}

net::awaitable<trial_outcome> parallel_trial_range(evaluation& ev, const config::settings& settings,
                                                   std::uint64_t n, std::uint64_t pre_hi,
                                                   std::uint64_t end) {
  trial_outcome out;
  out.workers = 1;
  if (pre_hi >= end) {
    co_return out;
  }
  // Chunk span from a time budget: candidates per chunk ≈ chunk_time / cost, 8 per 30.
  const double per_chunk =
      static_cast<double>(settings.eval.chunk_time.count()) * 1000.0 / trial_ns_per_candidate();
  const std::uint64_t span =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(per_chunk / 8)) * 30;
  const std::uint64_t chunks = (end - pre_hi + span - 1) / span;

  struct shared_result {
    std::atomic<std::uint64_t> factor{UINT64_MAX};
    std::atomic<std::uint64_t> checked{0};
  };
  auto result = std::make_shared<shared_result>();
  auto job = make_parallel_job(
      chunks,
      [n, pre_hi, end, span, result](std::uint64_t chunk, parallel_job& j,
                                     std::chrono::steady_clock::time_point) {
        const std::uint64_t lo = pre_hi + chunk * span;
        const std::uint64_t hi = std::min(lo + span, end);
        const auto r = kernels::scan_divisors(n, lo, hi);
        result->checked.fetch_add(r.divisors_checked, std::memory_order_relaxed);
        if (r.factor != 0) {
          std::uint64_t cur = result->factor.load(std::memory_order_relaxed);
          while (r.factor < cur &&
                 !result->factor.compare_exchange_weak(cur, r.factor, std::memory_order_relaxed)) {
          }
          j.lower_limit(chunk + 1);  // chunks below still run: a smaller factor wins
        }
        return true;  // a chunk is sized to fit in a slice
      },
      settings.eval.slice);
  co_await ev.run(job);
  out.workers = job->tasks();
  out.chunks = chunks;
  out.divisors_checked += result->checked.load(std::memory_order_relaxed);
  const std::uint64_t f = result->factor.load(std::memory_order_relaxed);
  out.factor = f == UINT64_MAX ? 0 : f;
  out.prime = out.factor == 0;
  co_return out;
}

}  // namespace evald
