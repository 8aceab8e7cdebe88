#pragma once
#include <cstdint>

namespace evald::kernels {

// GCC/Clang extension; __extension__ keeps -Wpedantic quiet about it.
__extension__ typedef unsigned __int128 u128;

// Arithmetic modulo an odd n < 2^64 in Montgomery form (R = 2^64).
// Values are kept in [0, n); works for the full 64-bit range without overflow.
class montgomery {
 public:
  explicit constexpr montgomery(std::uint64_t n) noexcept : n_(n) {
    // Newton iteration for n^-1 mod 2^64: n*n ≡ 1 (mod 8) gives 3 correct bits,
    // each step doubles them (3, 6, 12, 24, 48, 96).
    std::uint64_t inv = n;
    for (int i = 0; i < 5; ++i) {
      inv *= 2 - n * inv;
    }
    inv_ = inv;
    one_ = (0 - n) % n;  // 2^64 mod n
    r2_ = static_cast<std::uint64_t>(static_cast<u128>(one_) * one_ % n);
  }

  constexpr std::uint64_t modulus() const noexcept { return n_; }
  constexpr std::uint64_t one() const noexcept { return one_; }
  constexpr std::uint64_t minus_one() const noexcept { return n_ - one_; }

  // t * R^-1 mod n for t < n * R. Subtractive REDC: the low words of t and m*n cancel.
  constexpr std::uint64_t reduce(u128 t) const noexcept {
    const std::uint64_t m = static_cast<std::uint64_t>(t) * inv_;
    const std::uint64_t mn_hi = static_cast<std::uint64_t>((static_cast<u128>(m) * n_) >> 64);
    const std::uint64_t t_hi = static_cast<std::uint64_t>(t >> 64);
    const std::uint64_t r = t_hi - mn_hi;
    return t_hi < mn_hi ? r + n_ : r;
  }
  constexpr std::uint64_t mul(std::uint64_t a, std::uint64_t b) const noexcept {
    return reduce(static_cast<u128>(a) * b);
  }
  constexpr std::uint64_t to_montgomery(std::uint64_t a) const noexcept { return mul(a % n_, r2_); }
  constexpr std::uint64_t from_montgomery(std::uint64_t a) const noexcept { return reduce(a); }
  constexpr std::uint64_t add(std::uint64_t a, std::uint64_t b) const noexcept {
    const std::uint64_t s = a + b;
    return (s < a || s >= n_) ? s - n_ : s;
  }
  constexpr std::uint64_t sub(std::uint64_t a, std::uint64_t b) const noexcept {
    return a >= b ? a - b : a - b + n_;
  }

 private:
  std::uint64_t n_;
  std::uint64_t inv_ = 0;
  std::uint64_t one_ = 0;
  std::uint64_t r2_ = 0;
};

}  // namespace evald::kernels
