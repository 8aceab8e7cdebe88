#pragma once
#include <cstdint>

#include "handlers/exec/evaluation.hpp"

namespace evald {

struct trial_outcome {
  std::uint64_t factor = 0;  // smallest prime factor of a composite n; 0 for a prime or n < 2
  bool prime = false;
  std::uint64_t divisors_checked = 0;
  std::uint32_t workers = 0;  // workers the divisor range was spread over (1: answered serially)
  std::uint64_t chunks = 0;
};

// Cooperative parallel trial division (docs/architecture.md): a serial pre-check of the
// divisors below eval.trial_precheck on the request's worker, then the rest of the
// wheel candidates up to ⌊√n⌋ in chunks over all workers, with early exit. Chunks
// are handed out in increasing order and a hit in chunk k only stops chunks above
// k, so the factor returned is the smallest one, whatever the worker count.
net::awaitable<trial_outcome> parallel_trial_division(evaluation& ev,
                                                      const config::settings& settings,
                                                      std::uint64_t n);

// The chunked stage alone: wheel candidates in [lo, hi) (lo ≥ 7) over all workers,
// with the same early exit; `factor` is the smallest one in the range (0: none). A
// part of a trial division split across cluster nodes runs this.
net::awaitable<trial_outcome> parallel_trial_range(evaluation& ev, const config::settings& settings,
                                                   std::uint64_t n, std::uint64_t lo,
                                                   std::uint64_t hi);

// Nanoseconds per wheel candidate on this machine, measured once on first use.
double trial_ns_per_candidate();

}  // namespace evald
