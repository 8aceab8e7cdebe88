#include <gtest/gtest.h>

#include <random>

#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"

using namespace evald::kernels;
using v = std::vector<std::uint64_t>;

TEST(Factor, Table) {
  EXPECT_EQ(factor_u64(0), v{});
  EXPECT_EQ(factor_u64(1), v{});
  EXPECT_EQ(factor_u64(2), v{2});
  EXPECT_EQ(factor_u64(12), (v{2, 2, 3}));
  EXPECT_EQ(factor_u64(97), v{97});
  EXPECT_EQ(factor_u64(112272535095295ULL), (v{5, 109, 206004651551ULL}));
  EXPECT_EQ(factor_u64(100109100129100369ULL), (v{95362951, 1049769319}));
  EXPECT_EQ(factor_u64(100109100129101027ULL), (v{171656941, 583192847}));
  EXPECT_EQ(factor_u64(100109100129100151ULL), v{100109100129100151ULL});
  EXPECT_EQ(factor_u64(18446744073709551615ULL), (v{3, 5, 17, 257, 641, 65537, 6700417}));
  EXPECT_EQ(factor_u64(18446744073709551613ULL), (v{13, 3889, 364870227143809ULL}));
  EXPECT_EQ(factor_u64(4294967291ULL * 4294967291ULL), (v{4294967291ULL, 4294967291ULL}));
  EXPECT_EQ(factor_u64(4294967291ULL * 4294967279ULL), (v{4294967279ULL, 4294967291ULL}));
  EXPECT_EQ(factor_u64(1ULL << 63), v(63, 2));
  EXPECT_EQ(factor_u64(9746347772161ULL), (v{7, 11, 13, 17, 19, 31, 37, 41, 641}));
  EXPECT_EQ(factor_u64(3825123056546413051ULL), (v{149491, 747451, 34233211}));
}

TEST(Factor, RandomValuesMultiplyBackIntoPrimes) {
  std::mt19937_64 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t n = rng() >> (rng() % 40);
    const auto fs = factor_u64(n);
    std::uint64_t product = 1;
    for (std::size_t j = 0; j < fs.size(); ++j) {
      ASSERT_TRUE(is_prime_u64(fs[j])) << n;
      if (j > 0) {
        ASSERT_LE(fs[j - 1], fs[j]) << n;
      }
      product *= fs[j];
    }
    ASSERT_EQ(product, n < 2 ? 1 : n) << n;
  }
}
