#include "handlers/kernels/trial_division.hpp"

#include <array>
#include <cmath>

#include "handlers/kernels/montgomery.hpp"

namespace evald::kernels {
namespace {
constexpr std::array<std::uint64_t, 8> wheel_offsets = {1, 7, 11, 13, 17, 19, 23, 29};
}

std::uint64_t isqrt_u64(std::uint64_t n) noexcept {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  // The double estimate can be off by one either way near 2^64.
  while (r > 0 && static_cast<u128>(r) * r > n) {
    --r;
  }
  while (static_cast<u128>(r + 1) * (r + 1) <= n) {
    ++r;
  }
  return r;
}

divisor_scan scan_divisors(std::uint64_t n, std::uint64_t lo, std::uint64_t hi) noexcept {
  divisor_scan out;
  std::uint64_t base = lo - lo % 30;
  // Edge blocks (partly outside [lo, hi)) one candidate at a time.
  auto scan_block_checked = [&](std::uint64_t b) {
    for (std::uint64_t off : wheel_offsets) {
      const std::uint64_t d = b + off;
      if (d < lo || d >= hi) {
        continue;
      }
      ++out.divisors_checked;
      if (n % d == 0) {
        out.factor = d;
        return true;
      }
    }
    return false;
  };
  if (base < lo) {
    if (scan_block_checked(base)) {
      return out;
    }
    base += 30;
  }
  // Whole blocks: eight independent divisions the CPU can overlap, then checked
  // in increasing order so the smallest divisor wins.
  while (base + 30 <= hi) {
    std::array<std::uint64_t, 8> rem{};
    for (std::size_t i = 0; i < 8; ++i) {
      rem[i] = n % (base + wheel_offsets[i]);
    }
    unsigned hits = 0;  // branch-free: one test for the whole block
    for (std::size_t i = 0; i < 8; ++i) {
      hits |= static_cast<unsigned>(rem[i] == 0);
    }
    if (hits != 0) {
      for (std::size_t i = 0; i < 8; ++i) {
        ++out.divisors_checked;
        if (rem[i] == 0) {
          out.factor = base + wheel_offsets[i];
          return out;
        }
      }
    }
    out.divisors_checked += 8;
    base += 30;
  }
  if (base < hi) {
    scan_block_checked(base);
  }
  return out;
}

trial_division::trial_division(std::uint64_t n) noexcept : n_(n), end_(isqrt_u64(n) + 1) {
  if (n < 2) {
    finished_ = true;
    return;
  }
  for (std::uint64_t p : {2ULL, 3ULL, 5ULL}) {
    if (p * p > n) {
      finished_ = true;
      return;
    }
    ++checked_;
    if (n % p == 0) {
      factor_ = p;
      finished_ = true;
      return;
    }
  }
}

bool trial_division::step(std::uint64_t budget) noexcept {
  if (finished_) {
    return true;
  }
  if (next_ >= end_) {  // e.g. 25 <= n < 49: no wheel candidate up to the root
    finished_ = true;
    return true;
  }
  // `budget` candidates span budget * 30 / 8 integers of the wheel.
  const std::uint64_t span = (budget < 8 ? 1 : budget / 8) * 30;
  const std::uint64_t hi = end_ - next_ > span ? next_ + span : end_;
  const divisor_scan scan = scan_divisors(n_, next_, hi);
  checked_ += scan.divisors_checked;
  next_ = hi;
  if (scan.factor != 0) {
    factor_ = scan.factor;
    finished_ = true;
  } else if (next_ >= end_) {
    finished_ = true;
  }
  return finished_;
}

}  // namespace evald::kernels
