#pragma once
#include <cstdint>

namespace evald::kernels {

// ⌊√n⌋ exactly, for every 64-bit n.
std::uint64_t isqrt_u64(std::uint64_t n) noexcept;

struct divisor_scan {
  std::uint64_t factor = 0;            // smallest divisor found in the range, 0 if none
  std::uint64_t divisors_checked = 0;  // candidates actually tried
};

// Tries the candidate divisors d of n with lo <= d < hi that are coprime to 30
// (the 2·3·5 wheel: 8 candidates in every 30), in increasing order, and stops at
// the first that divides n. Requires lo >= 7. Pure; any thread may call it.
divisor_scan scan_divisors(std::uint64_t n, std::uint64_t lo, std::uint64_t hi) noexcept;

// Serial trial division that can be run in bounded slices: step() tries at most
// about `budget` candidates and returns, so a caller can yield between slices.
// Not thread-safe; one owner at a time.
class trial_division {
 public:
  explicit trial_division(std::uint64_t n) noexcept;

  // Returns true once the answer is known.
  bool step(std::uint64_t budget) noexcept;

  bool finished() const noexcept { return finished_; }
  // n is prime: n >= 2 and no factor below it. Valid once finished().
  bool is_prime() const noexcept { return finished_ && n_ >= 2 && factor_ == 0; }
  // Smallest prime factor of a composite n; 0 when n is prime or n < 2.
  std::uint64_t smallest_factor() const noexcept { return factor_; }
  std::uint64_t divisors_checked() const noexcept { return checked_; }

 private:
  std::uint64_t n_;
  std::uint64_t next_ = 7;  // next wheel candidate to try
  std::uint64_t end_;       // one past ⌊√n⌋
  std::uint64_t factor_ = 0;
  std::uint64_t checked_ = 0;
  bool finished_ = false;
};

}  // namespace evald::kernels
