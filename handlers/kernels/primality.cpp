#include "handlers/kernels/primality.hpp"

#include <array>
#include <bit>
#include <span>

#include "handlers/kernels/montgomery.hpp"

namespace evald::kernels {
namespace {

// Runs the strong test for all bases at once: the exponentiation chains are
// independent, so interleaving them keeps the multiplier busy instead of waiting
// on one chain's latency. This is what brings a 7-base test under a microsecond.
template <std::size_t K>
bool strong_test_all(std::uint64_t n, const std::array<std::uint64_t, K>& bases) noexcept {
  const montgomery mont(n);
  const std::uint64_t n_minus_1 = n - 1;
  const int s = std::countr_zero(n_minus_1);
  const std::uint64_t d = n_minus_1 >> s;

  std::array<std::uint64_t, K> base_m{};
  std::array<std::uint64_t, K> x{};
  std::array<bool, K> trivial{};  // a ≡ 0 (mod n): the base says nothing
  for (std::size_t i = 0; i < K; ++i) {
    const std::uint64_t a = bases[i] % n;
    trivial[i] = a == 0;
    base_m[i] = mont.to_montgomery(a);
    x[i] = base_m[i];
  }
  // Left-to-right binary powering; the top bit of d is consumed by x = a.
  for (int bit = 62 - std::countl_zero(d); bit >= 0; --bit) {
    for (std::size_t i = 0; i < K; ++i) {
      x[i] = mont.mul(x[i], x[i]);
    }
    if ((d >> bit) & 1U) {
      for (std::size_t i = 0; i < K; ++i) {
        x[i] = mont.mul(x[i], base_m[i]);
      }
    }
  }
  const std::uint64_t one = mont.one();
  const std::uint64_t minus_one = mont.minus_one();
  for (std::size_t i = 0; i < K; ++i) {
    if (trivial[i] || x[i] == one || x[i] == minus_one) {
      continue;
    }
    bool witness = true;
    std::uint64_t y = x[i];
    for (int r = 1; r < s; ++r) {
      y = mont.mul(y, y);
      if (y == minus_one) {
        witness = false;
        break;
      }
      if (y == one) {
        break;  // reached 1 without passing through -1: composite
      }
    }
    if (witness) {
      return false;
    }
  }
  return true;
}

// Divisibility by d without a division: for odd d, n*inv(d) mod 2^64 <= (2^64-1)/d
// exactly when d | n (Granlund–Montgomery). Computed at compile time.
struct small_prime {
  std::uint64_t p;
  std::uint64_t inverse;
  std::uint64_t limit;
};
constexpr small_prime make_small_prime(std::uint64_t p) {
  std::uint64_t inv = p;
  for (int i = 0; i < 5; ++i) {
    inv *= 2 - p * inv;
  }
  return {p, inv, ~std::uint64_t{0} / p};
}
constexpr std::array<small_prime, 14> small_primes = {
    make_small_prime(3),  make_small_prime(5),  make_small_prime(7),  make_small_prime(11),
    make_small_prime(13), make_small_prime(17), make_small_prime(19), make_small_prime(23),
    make_small_prime(29), make_small_prime(31), make_small_prime(37), make_small_prime(41),
    make_small_prime(43), make_small_prime(47)};

}  // namespace

bool is_strong_probable_prime(std::uint64_t n, std::uint64_t a) noexcept {
  return strong_test_all<1>(n, {a});
}

bool is_prime_u64(std::uint64_t n) noexcept {
  if (n < 2) {
    return false;
  }
  if (n % 2 == 0) {
    return n == 2;
  }
  for (const small_prime& sp : small_primes) {
    if (n * sp.inverse <= sp.limit) {
      return n == sp.p;
    }
  }
  if (n < 53 * 53) {
    return true;  // no prime factor up to 47, and n < 53^2
  }
  // Smallest-first bounds below which the first k primes are a deterministic base
  // set (Jaeschke; Pomerance–Selfridge–Wagstaff). Above, the 7-base set of Sinclair.
  if (n < 1'373'653ULL) {
    return strong_test_all<2>(n, {2, 3});
  }
  if (n < 25'326'001ULL) {
    return strong_test_all<3>(n, {2, 3, 5});
  }
  if (n < 3'215'031'751ULL) {
    return strong_test_all<4>(n, {2, 3, 5, 7});
  }
  if (n < 2'152'302'898'747ULL) {
    return strong_test_all<5>(n, {2, 3, 5, 7, 11});
  }
  if (n < 3'474'749'660'383ULL) {
    return strong_test_all<6>(n, {2, 3, 5, 7, 11, 13});
  }
  return strong_test_all<7>(n, {2, 325, 9375, 28178, 450775, 9780504, 1795265022});
}

}  // namespace evald::kernels
