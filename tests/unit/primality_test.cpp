#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "handlers/kernels/primality.hpp"

using evald::kernels::is_prime_u64;
using evald::kernels::is_strong_probable_prime;

namespace {

// Independent oracle: primes up to 10^6 by a sieve, then division by those primes.
const std::vector<std::uint32_t>& primes_to_million() {
  static const std::vector<std::uint32_t> primes = [] {
    std::vector<bool> composite(1'000'001, false);
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 2; i <= 1'000'000; ++i) {
      if (!composite[i]) {
        out.push_back(i);
        for (std::uint64_t j = std::uint64_t{i} * i; j <= 1'000'000; j += i) {
          composite[j] = true;
        }
      }
    }
    return out;
  }();
  return primes;
}

bool oracle_is_prime(std::uint64_t n) {  // n < 10^12
  if (n < 2) {
    return false;
  }
  for (std::uint32_t p : primes_to_million()) {
    if (std::uint64_t{p} * p > n) {
      return true;
    }
    if (n % p == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST(Primality, SmallValues) {
  EXPECT_FALSE(is_prime_u64(0));
  EXPECT_FALSE(is_prime_u64(1));
  EXPECT_TRUE(is_prime_u64(2));
  EXPECT_TRUE(is_prime_u64(3));
  EXPECT_FALSE(is_prime_u64(4));
  EXPECT_TRUE(is_prime_u64(5));
  EXPECT_FALSE(is_prime_u64(9));
  EXPECT_TRUE(is_prime_u64(97));
  EXPECT_FALSE(is_prime_u64(2809));  // 53^2, just past the small-prime sieve
  EXPECT_TRUE(is_prime_u64(2801));
}

TEST(Primality, ContextNumbers) {
  EXPECT_FALSE(is_prime_u64(112272535095295ULL));     // 5 × 109 × 206004651551
  EXPECT_FALSE(is_prime_u64(100109100129100369ULL));  // 95362951 × 1049769319
  EXPECT_FALSE(is_prime_u64(100109100129101027ULL));  // 171656941 × 583192847
  EXPECT_TRUE(is_prime_u64(100109100129100151ULL));
  EXPECT_TRUE(is_prime_u64(100109100129162907ULL));
}

TEST(Primality, CarmichaelNumbersAreComposite) {
  for (std::uint64_t n :
       {561ULL, 1105ULL, 1729ULL, 2465ULL, 2821ULL, 6601ULL, 8911ULL, 41041ULL, 825265ULL,
        321197185ULL, 5394826801ULL, 232250619601ULL, 9746347772161ULL}) {
    EXPECT_FALSE(is_prime_u64(n)) << n;
  }
}

TEST(Primality, StrongPseudoprimesFoolTheirBasesButNotUs) {
  struct case_t {
    std::uint64_t n;
    std::vector<std::uint64_t> fooled_bases;
  };
  const std::vector<case_t> cases = {
      {2047, {2}},
      {1373653, {2, 3}},
      {25326001, {2, 3, 5}},
      {3215031751ULL, {2, 3, 5, 7}},
      {2152302898747ULL, {2, 3, 5, 7, 11}},
      {3474749660383ULL, {2, 3, 5, 7, 11, 13}},
      {341550071728321ULL, {2, 3, 5, 7, 11, 13, 17}},
      {3825123056546413051ULL, {2, 3, 5, 7, 11, 13, 17, 19, 23}},
  };
  for (const auto& c : cases) {
    for (std::uint64_t a : c.fooled_bases) {
      // The oracle check that our strong test is the real one: it must be fooled too.
      EXPECT_TRUE(is_strong_probable_prime(c.n, a)) << c.n << " base " << a;
    }
    EXPECT_FALSE(is_prime_u64(c.n)) << c.n;
  }
}

TEST(Primality, NearTwoToThe64) {
  EXPECT_TRUE(is_prime_u64(18446744073709551557ULL));   // 2^64 - 59
  EXPECT_FALSE(is_prime_u64(18446744073709551615ULL));  // 2^64 - 1
  EXPECT_FALSE(is_prime_u64(18446744073709551613ULL));  // 2^64 - 3 = 13 × 3889 × 364870227143809
  EXPECT_TRUE(is_prime_u64(2305843009213693951ULL));    // 2^61 - 1
  EXPECT_TRUE(is_prime_u64(4294967291ULL));             // largest 32-bit prime
  EXPECT_FALSE(is_prime_u64(4294967291ULL * 4294967279ULL));
  EXPECT_FALSE(is_prime_u64(4294967291ULL * 4294967291ULL));
}

TEST(Primality, AgreesWithTrialDivisionOnRandomValuesBelow1e12) {
  std::mt19937_64 rng(20261121);
  std::uniform_int_distribution<std::uint64_t> dist(0, 1'000'000'000'000ULL);
  int primes = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t n = dist(rng);
    const bool expected = oracle_is_prime(n);
    primes += expected ? 1 : 0;
    ASSERT_EQ(is_prime_u64(n), expected) << n;
  }
  EXPECT_GT(primes, 2000);  // the sample really contains primes (~3.6 %)
}

TEST(Primality, AgreesWithTrialDivisionOnEveryValueBelow100000) {
  for (std::uint64_t n = 0; n < 100'000; ++n) {
    ASSERT_EQ(is_prime_u64(n), oracle_is_prime(n)) << n;
  }
}
