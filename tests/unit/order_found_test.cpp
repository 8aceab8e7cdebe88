// The Log Detector's Order check (KMP) against the plain definition, on random and
// adversarial sequences, split at every point between the earlier calls and this one.
#include <gtest/gtest.h>

#include <random>

#include "handlers/exec/rule_runner.hpp"

namespace {

bool naive(const std::vector<std::int64_t>& order, const std::vector<std::int64_t>& all) {
  if (order.empty()) {
    return true;
  }
  for (std::size_t start = 0; start + order.size() <= all.size(); ++start) {
    if (std::equal(order.begin(), order.end(), all.begin() + static_cast<std::ptrdiff_t>(start))) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST(OrderFound, AgreesWithTheDefinitionAtEverySplit) {
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 3000; ++round) {
    const int alphabet = 1 + static_cast<int>(rng() % 3);  // few values: many partial matches
    std::vector<std::int64_t> all(rng() % 14), order(rng() % 6);
    for (auto& v : all) {
      v = static_cast<std::int64_t>(rng() % alphabet);
    }
    for (auto& v : order) {
      v = static_cast<std::int64_t>(rng() % alphabet);
    }
    const bool expected = naive(order, all);
    for (std::size_t split = 0; split <= all.size(); ++split) {
      const std::vector<std::int64_t> earlier(all.begin(),
                                              all.begin() + static_cast<std::ptrdiff_t>(split));
      const std::vector<std::int64_t> now(all.begin() + static_cast<std::ptrdiff_t>(split),
                                          all.end());
      ASSERT_EQ(evald::order_found(order, earlier, now), expected) << "round " << round;
    }
  }
}

TEST(OrderFound, TheQuadraticCaseIsFound) {
  // 390k true conditions of one value and an order of 130k of it with a different
  // last value: the naive scan compared ~5·10^10 pairs.
  std::vector<std::int64_t> earlier(390000, 7);
  std::vector<std::int64_t> order(130000, 7);
  order.back() = 8;
  EXPECT_FALSE(evald::order_found(order, earlier, {}));
  EXPECT_TRUE(evald::order_found(order, earlier, {8}));
  EXPECT_TRUE(evald::order_found({}, {}, {}));
  EXPECT_FALSE(evald::order_found({1}, {}, {}));
}
