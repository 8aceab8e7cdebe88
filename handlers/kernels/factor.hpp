#pragma once
#include <cstdint>
#include <vector>

namespace evald::kernels {

// Complete factorisation of n into primes, in non-decreasing order: trial division
// by small primes, Miller–Rabin, then Pollard–Brent rho (Montgomery arithmetic)
// for what is left. factor_u64(0) and factor_u64(1) are empty. Pure; any thread.
std::vector<std::uint64_t> factor_u64(std::uint64_t n);

// One nontrivial divisor of an odd composite n that has no factor below 64
// (Pollard–Brent rho). Exposed for tests and benchmarks.
std::uint64_t pollard_brent_divisor(std::uint64_t n) noexcept;

}  // namespace evald::kernels
