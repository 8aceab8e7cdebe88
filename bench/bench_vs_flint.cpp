// evald's kernels against FLINT's on the same inputs, interleaved in one run, so
// the ratio holds however fast the machine happens to be today.
// Run: ./build/release/bench/bench_vs_flint   (built when Debian's libflint-dev is installed)
#include <flint/ulong_extras.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"

using clock_type = std::chrono::steady_clock;

template <class F>
double ns_per_call(const std::vector<std::uint64_t>& inputs, F f) {
  const auto t = clock_type::now();
  std::size_t sink = 0;
  for (auto n : inputs) {
    sink += f(n);
  }
  const double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t).count() /
                    static_cast<double>(inputs.size());
  return sink == 0xFFFFFFFFFFFFULL ? -1 : ns;
}

int main() {
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> primes;
  while (primes.size() < 20000) {
    const std::uint64_t n = rng() | (1ULL << 63) | 1;
    if (evald::kernels::is_prime_u64(n)) {
      primes.push_back(n);
    }
  }
  std::vector<std::uint64_t> semiprimes;
  auto prime31 = [&] {
    for (;;) {
      const std::uint64_t p = (rng() & 0x7FFFFFFFULL) | 0x40000001ULL;
      if (evald::kernels::is_prime_u64(p)) {
        return p;
      }
    }
  };
  while (semiprimes.size() < 1000) {
    semiprimes.push_back(prime31() * prime31());
  }
  // Interleave the two libraries run by run; report medians.
  std::vector<double> mr_ours, mr_flint, f_ours, f_flint;
  for (int r = 0; r < 9; ++r) {
    mr_ours.push_back(ns_per_call(
        primes, [](std::uint64_t n) { return evald::kernels::is_prime_u64(n) ? 1 : 0; }));
    mr_flint.push_back(ns_per_call(primes, [](std::uint64_t n) { return n_is_prime(n); }));
    if (r < 3) {
      f_ours.push_back(ns_per_call(
          semiprimes, [](std::uint64_t n) { return evald::kernels::factor_u64(n).size(); }));
      f_flint.push_back(ns_per_call(semiprimes, [](std::uint64_t n) {
        n_factor_t f;
        n_factor_init(&f);
        n_factor(&f, n, 0);
        return static_cast<std::size_t>(f.num);
      }));
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "command: ./build/release/bench/bench_vs_flint (FLINT %s, same inputs, interleaved runs)\n",
      FLINT_VERSION);
  std::printf(
      "primality of 64-bit primes (> 2^63):  evald %7.1f ns   FLINT n_is_prime %7.1f ns   ratio "
      "%.2f\n",
      median(mr_ours), median(mr_flint), median(mr_ours) / median(mr_flint));
  std::printf(
      "factor 62-bit semiprimes (2 x 31-bit): evald %7.1f us   FLINT n_factor   %7.1f us   ratio "
      "%.2f (mean per number)\n",
      median(f_ours) / 1e3, median(f_flint) / 1e3, median(f_ours) / median(f_flint));
  return 0;
}
