#include "handlers/kernels/factor.hpp"

#include <algorithm>
#include <bit>

#include "handlers/kernels/montgomery.hpp"
#include "handlers/kernels/primality.hpp"

namespace evald::kernels {
namespace {

std::uint64_t binary_gcd(std::uint64_t a, std::uint64_t b) noexcept {
  if (a == 0) {
    return b;
  }
  if (b == 0) {
    return a;
  }
  const int shift = std::countr_zero(a | b);
  a >>= std::countr_zero(a);
  do {
    b >>= std::countr_zero(b);
    if (a > b) {
      std::swap(a, b);
    }
    b -= a;
  } while (b != 0);
  return a << shift;
}

// Brent's variant: y runs ahead in doubling stretches; the differences |x - y| are
// multiplied together (Montgomery form, so the product's gcd with n is what the
// plain product's would be) and the gcd is taken once per `batch` steps. When a
// batch overshoots to gcd = n, it is replayed one step at a time from its start.
std::uint64_t rho_with_constant(std::uint64_t n, std::uint64_t c) noexcept {
  const montgomery m(n);
  const std::uint64_t c_m = m.to_montgomery(c);
  auto f = [&](std::uint64_t v) { return m.add(m.mul(v, v), c_m); };
  constexpr std::uint64_t batch = 256;
  std::uint64_t y = m.to_montgomery(2);
  std::uint64_t x = y;
  std::uint64_t ys = y;
  std::uint64_t q = m.one();
  std::uint64_t g = 1;
  for (std::uint64_t r = 1; g == 1; r <<= 1) {
    x = y;
    for (std::uint64_t i = 0; i < r; ++i) {
      y = f(y);
    }
    for (std::uint64_t k = 0; k < r && g == 1; k += batch) {
      ys = y;
      const std::uint64_t steps = std::min(batch, r - k);
      for (std::uint64_t i = 0; i < steps; ++i) {
        y = f(y);
        q = m.mul(q, x > y ? x - y : y - x);
      }
      g = binary_gcd(q, n);
    }
    if (r > (1ULL << 40)) {
      return 0;  // unreachable for 64-bit n in practice; give up with this constant
    }
  }
  if (g == n) {
    do {
      ys = f(ys);
      g = binary_gcd(x > ys ? x - ys : ys - x, n);
    } while (g == 1);
  }
  return g == n ? 0 : g;
}

void factor_into(std::uint64_t n, std::vector<std::uint64_t>& out) {
  if (n == 1) {
    return;
  }
  if (is_prime_u64(n)) {
    out.push_back(n);
    return;
  }
  std::uint64_t d = pollard_brent_divisor(n);
  factor_into(d, out);
  factor_into(n / d, out);
}

}  // namespace

std::uint64_t pollard_brent_divisor(std::uint64_t n) noexcept {
  // A perfect square defeats some constants; check it directly.
  const auto r = static_cast<std::uint64_t>(__builtin_sqrtl(static_cast<long double>(n)));
  for (std::uint64_t s = r > 0 ? r - 1 : 0; s <= r + 1; ++s) {
    if (s > 1 && static_cast<u128>(s) * s == n) {
      return s;
    }
  }
  for (std::uint64_t c = 1;; ++c) {
    if (const std::uint64_t d = rho_with_constant(n, c); d != 0) {
      return d;
    }
  }
}

std::vector<std::uint64_t> factor_u64(std::uint64_t n) {
  std::vector<std::uint64_t> out;
  if (n < 2) {
    return out;
  }
  const int twos = std::countr_zero(n);
  out.insert(out.end(), static_cast<std::size_t>(twos), 2);
  n >>= twos;
  for (std::uint64_t p = 3; p < 64 && p * p <= n; p += 2) {
    while (n % p == 0) {
      out.push_back(p);
      n /= p;
    }
  }
  if (n > 1 && n < 64 * 64) {
    out.push_back(n);  // no factor below 64 and n < 64^2: prime
  } else if (n > 1) {
    factor_into(n, out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace evald::kernels
