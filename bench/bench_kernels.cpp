// Kernel benchmarks, alone (no server): Miller–Rabin ns per call, serial trial
// division on five reference numbers, chargen pattern throughput.
// Run: ./build/release/bench/bench_kernels
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "handlers/kernels/chargen_pattern.hpp"
#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/kernels/trial_division.hpp"

using namespace evald::kernels;
using clock_type = std::chrono::steady_clock;

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "unknown";
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Median of `runs` timings of f(), each over all inputs, in ns per input.
template <class F>
double median_ns_per_call(const std::vector<std::uint64_t>& inputs, int runs, F f) {
  std::vector<double> samples;
  for (int r = 0; r < runs; ++r) {
    const auto t = clock_type::now();
    std::size_t sink = 0;
    for (std::uint64_t n : inputs) {
      sink += f(n) ? 1 : 0;
    }
    samples.push_back(seconds_since(t) * 1e9 / static_cast<double>(inputs.size()));
    if (sink == 0xFFFFFFFF) {
      std::puts("");  // keeps the calls from being optimised away
    }
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "serial-trial") {
    // Machine-readable serial times for bench/trial_speedup.sh: "n ms" per line, median of 5.
    for (std::uint64_t n : {112272535095295ULL, 100109100129100369ULL, 100109100129101027ULL,
                            100109100129100151ULL, 100109100129162907ULL}) {
      std::vector<double> ms;
      for (int r = 0; r < 5; ++r) {
        const auto t = clock_type::now();
        trial_division trial(n);
        while (!trial.step(1 << 20)) {
        }
        ms.push_back(seconds_since(t) * 1e3);
      }
      std::sort(ms.begin(), ms.end());
      std::printf("%llu %.4f\n", static_cast<unsigned long long>(n), ms[2]);
    }
    return 0;
  }
  std::printf("machine: %s, %u hardware threads\n", cpu_model().c_str(),
              std::thread::hardware_concurrency());
  std::printf("command: ./build/release/bench/bench_kernels\n\n");

  // Random 64-bit primes (above 2^63, the hardest case: all 7 bases) and random
  // odd 64-bit composites.
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> primes;
  std::vector<std::uint64_t> composites;
  while (primes.size() < 20000) {
    const std::uint64_t n = rng() | (1ULL << 63) | 1;
    (is_prime_u64(n) ? primes : composites).push_back(n);
  }
  composites.resize(20000);
  std::vector<std::uint64_t> primes_62;  // ~62-bit, like the ~1e17 test numbers
  while (primes_62.size() < 20000) {
    const std::uint64_t n = (rng() >> 2) | (1ULL << 61) | 1;
    if (is_prime_u64(n)) {
      primes_62.push_back(n);
    }
  }
  std::printf("Miller-Rabin (deterministic, Montgomery, bases interleaved), median of 15 runs:\n");
  std::printf("  64-bit primes (> 2^63)     %7.1f ns/call\n",
              median_ns_per_call(primes, 15, is_prime_u64));
  std::printf("  62-bit primes              %7.1f ns/call\n",
              median_ns_per_call(primes_62, 15, is_prime_u64));
  std::printf("  random odd 64-bit composites %5.1f ns/call\n\n",
              median_ns_per_call(composites, 15, is_prime_u64));

  // 62-bit semiprimes: two random 31-bit primes.
  std::vector<std::uint64_t> semiprimes;
  auto prime31 = [&] {
    for (;;) {
      const std::uint64_t p = (rng() & 0x7FFFFFFFULL) | 0x40000001ULL;
      if (is_prime_u64(p)) {
        return p;
      }
    }
  };
  while (semiprimes.size() < 2000) {
    semiprimes.push_back(prime31() * prime31());
  }
  {
    std::vector<double> each;
    for (std::uint64_t n : semiprimes) {
      const auto t = clock_type::now();
      const auto fs = factor_u64(n);
      each.push_back(seconds_since(t) * 1e6);
      if (fs.size() != 2 || fs[0] * fs[1] != n) {
        std::printf("factor_u64 failed on %llu\n", static_cast<unsigned long long>(n));
        return 1;
      }
    }
    std::sort(each.begin(), each.end());
    std::printf("Pollard-Brent factor_u64, 2000 62-bit semiprimes (two 31-bit primes):\n");
    std::printf("  median %.1f us, p90 %.1f us, max %.1f us\n\n", each[each.size() / 2],
                each[each.size() * 9 / 10], each.back());
  }

  std::printf("Serial trial division (2·3·5 wheel), one thread:\n");
  std::printf("  %-22s %-10s %14s %16s\n", "n", "result", "wall ms", "divisors tried");
  for (std::uint64_t n : {112272535095295ULL, 100109100129100369ULL, 100109100129101027ULL,
                          100109100129100151ULL, 100109100129162907ULL}) {
    const auto t = clock_type::now();
    trial_division trial(n);
    while (!trial.step(1 << 20)) {
    }
    const double ms = seconds_since(t) * 1e3;
    const std::string result =
        trial.is_prime() ? "prime" : "factor " + std::to_string(trial.smallest_factor());
    std::printf("  %-22llu %-18s %8.2f %16llu\n", static_cast<unsigned long long>(n),
                result.c_str(), ms, static_cast<unsigned long long>(trial.divisors_checked()));
  }

  std::printf("\nChargen pattern:\n");
  std::string buf(1 << 20, '\0');
  const auto t = clock_type::now();
  std::uint64_t pos = 0;
  for (int i = 0; i < 2000; ++i) {
    chargen_fill(buf, pos);
    pos += buf.size();
  }
  std::printf("  chargen_fill (copying)    %7.2f GB/s\n",
              static_cast<double>(pos) / seconds_since(t) / 1e9);
  std::printf("  chargen_window            zero-copy view into a %zu-byte read-only block\n",
              chargen_period_bytes * 11);
  return 0;
}
