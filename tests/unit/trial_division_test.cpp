#include <gtest/gtest.h>

#include <random>

#include "handlers/kernels/trial_division.hpp"

using namespace evald::kernels;

namespace {
std::uint64_t run_to_end(trial_division& t, std::uint64_t budget) {
  int steps = 0;
  while (!t.step(budget)) {
    ++steps;
  }
  return static_cast<std::uint64_t>(steps);
}
}  // namespace

TEST(TrialDivision, Isqrt) {
  for (std::uint64_t r : {0ULL, 1ULL, 2ULL, 3ULL, 1000ULL, 4294967295ULL, 3037000499ULL}) {
    const std::uint64_t sq = r * r;
    EXPECT_EQ(isqrt_u64(sq), r);
    if (r > 0) {
      EXPECT_EQ(isqrt_u64(sq - 1), r - 1);
    }
  }
  EXPECT_EQ(isqrt_u64(18446744073709551615ULL), 4294967295ULL);
}

TEST(TrialDivision, ContextNumbersSmallestFactor) {
  struct case_t {
    std::uint64_t n;
    std::uint64_t factor;
  };
  for (const auto& c : {case_t{112272535095295ULL, 5}, case_t{100109100129100369ULL, 95362951},
                        case_t{100109100129101027ULL, 171656941}}) {
    trial_division t(c.n);
    run_to_end(t, 1 << 20);
    EXPECT_FALSE(t.is_prime());
    EXPECT_EQ(t.smallest_factor(), c.factor) << c.n;
  }
}

TEST(TrialDivision, SmallCases) {
  for (std::uint64_t n : {0ULL, 1ULL}) {
    trial_division t(n);
    EXPECT_TRUE(t.finished());
    EXPECT_FALSE(t.is_prime());
    EXPECT_EQ(t.smallest_factor(), 0U);
  }
  // 25 <= n < 49 has no wheel candidate (>= 7) up to its root.
  for (std::uint64_t p :
       {2ULL, 3ULL, 5ULL, 7ULL, 11ULL, 13ULL, 29ULL, 31ULL, 37ULL, 41ULL, 43ULL, 47ULL, 97ULL}) {
    trial_division t(p);
    run_to_end(t, 8);
    EXPECT_TRUE(t.is_prime()) << p;
  }
  for (auto [n, f] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
           {4, 2}, {9, 3}, {25, 5}, {49, 7}, {121, 11}, {169, 13}, {961, 31}, {29 * 31, 29}}) {
    trial_division t(n);
    run_to_end(t, 8);
    EXPECT_EQ(t.smallest_factor(), f) << n;
  }
}

TEST(TrialDivision, EveryValueBelow5000AgainstPlainDivision) {
  for (std::uint64_t n = 0; n < 5000; ++n) {
    std::uint64_t expected = 0;
    for (std::uint64_t d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        expected = d;
        break;
      }
    }
    trial_division t(n);
    run_to_end(t, 8);
    ASSERT_EQ(t.smallest_factor(), expected) << n;
    ASSERT_EQ(t.is_prime(), n >= 2 && expected == 0) << n;
  }
}

TEST(TrialDivision, SlicingDoesNotChangeTheAnswer) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> dist(2, 50'000'000'000ULL);
  for (int i = 0; i < 300; ++i) {
    const std::uint64_t n = dist(rng);
    trial_division whole(n);
    run_to_end(whole, UINT64_MAX / 64);
    trial_division sliced(n);
    run_to_end(sliced, 17);
    EXPECT_EQ(whole.smallest_factor(), sliced.smallest_factor()) << n;
    EXPECT_EQ(whole.divisors_checked(), sliced.divisors_checked()) << n;
    // Oracle: plain division by every integer.
    std::uint64_t expected = 0;
    for (std::uint64_t d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        expected = d;
        break;
      }
    }
    EXPECT_EQ(whole.smallest_factor(), expected) << n;
  }
}

TEST(TrialDivision, ScanRangeFindsFirstDivisorInRange) {
  const std::uint64_t n = 7ULL * 11 * 13 * 1000003;
  EXPECT_EQ(scan_divisors(n, 7, 100).factor, 7U);
  EXPECT_EQ(scan_divisors(n, 8, 100).factor, 11U);
  EXPECT_EQ(scan_divisors(n, 12, 100).factor, 13U);
  // The smallest divisor in the range, even when composite (77 = 7 × 11).
  EXPECT_EQ(scan_divisors(n, 14, 100).factor, 77U);
  const std::uint64_t semiprime = 1000003ULL * 1000033ULL;
  EXPECT_EQ(scan_divisors(semiprime, 7, 1000003).factor, 0U);
  EXPECT_EQ(scan_divisors(semiprime, 7, 1000004).factor, 1000003U);
  // Candidates are the integers coprime to 30: 8 in every 30.
  EXPECT_EQ(scan_divisors(1, 30, 330).divisors_checked, 80U);
}
