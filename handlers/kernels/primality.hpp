#pragma once
#include <cstdint>

namespace evald::kernels {

// Deterministic Miller–Rabin for every 64-bit n, with Montgomery multiplication.
// Pure and thread-safe; any thread may call it.
bool is_prime_u64(std::uint64_t n) noexcept;

// One strong-probable-prime test of odd n > 2 to base a (a reduced mod n; a ≡ 0 passes).
// Exposed for tests that check known strong pseudoprimes base by base.
bool is_strong_probable_prime(std::uint64_t n, std::uint64_t a) noexcept;

}  // namespace evald::kernels
