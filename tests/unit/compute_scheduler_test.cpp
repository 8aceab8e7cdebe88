// The fair share of one worker's compute (server/compute_scheduler) and a tenant's
// quotas (server/tenant): slices report a fixed CPU time, so every count is exact.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "server/compute_scheduler.hpp"
#include "server/tenant.hpp"

using namespace evald;
using namespace std::chrono_literals;

namespace {

config::tenant_limits weighted(double w) {
  config::tenant_limits l;
  l.weight = w;
  return l;
}

// An item that runs `slices` slices of 1 ms each and records who ran.
compute_scheduler::slice item(std::vector<std::string>& log, std::string name, int slices) {
  return [&log, name = std::move(name), left = slices](std::chrono::nanoseconds& cpu) mutable {
    log.push_back(name);
    cpu = 1ms;
    return --left > 0;
  };
}

std::map<std::string, int> count(const std::vector<std::string>& log, std::size_t from,
                                 std::size_t to) {
  std::map<std::string, int> c;
  for (std::size_t i = from; i < to; ++i) {
    ++c[log[i]];
  }
  return c;
}

}  // namespace

TEST(ComputeScheduler, SharesFollowTheWeights) {
  tenant_account a("a", weighted(1)), b("b", weighted(3));
  compute_scheduler s(true);
  std::vector<std::string> log;
  s.enqueue(&a, item(log, "a", 1000));
  s.enqueue(&b, item(log, "b", 1000));
  for (int i = 0; i < 400; ++i) {
    s.run_one();
  }
  const auto c = count(log, 0, log.size());
  EXPECT_NEAR(c.at("b"), 300, 2);
  EXPECT_NEAR(c.at("a"), 100, 2);
  EXPECT_EQ(a.queued_slices.load(), 1);
}

TEST(ComputeScheduler, ManyItemsOfOneTenantDoNotOutweighOneItemOfAnother) {
  tenant_account flood("flood", weighted(1)), light("light", weighted(1));
  compute_scheduler s(true);
  std::vector<std::string> log;
  for (int i = 0; i < 16; ++i) {
    s.enqueue(&flood, item(log, "flood", 1000));
  }
  s.enqueue(&light, item(log, "light", 1000));
  for (int i = 0; i < 200; ++i) {
    s.run_one();
  }
  EXPECT_NEAR(count(log, 0, log.size()).at("light"), 100, 1);
}

TEST(ComputeScheduler, AWakingTenantBanksNoCreditAndALoneTenantGetsEverySlice) {
  tenant_account a("a", weighted(1)), b("b", weighted(1));
  compute_scheduler s(true);
  std::vector<std::string> log;
  s.enqueue(&a, item(log, "a", 1000));
  for (int i = 0; i < 100; ++i) {
    s.run_one();  // alone: every slice is a's
  }
  EXPECT_EQ(count(log, 0, log.size()).at("a"), 100);
  s.enqueue(&b, item(log, "b", 1000));
  for (int i = 0; i < 20; ++i) {
    s.run_one();
  }
  // b starts at a's virtual time: they alternate instead of b running 100 in a row.
  const auto c = count(log, 100, 120);
  EXPECT_NEAR(c.at("a"), 10, 1);
  EXPECT_NEAR(c.at("b"), 10, 1);
}

TEST(ComputeScheduler, FifoServesItemsRoundRobinWhoeverSentThem) {
  tenant_account flood("flood", weighted(1)), light("light", weighted(1));
  compute_scheduler s(false);
  std::vector<std::string> log;
  for (int i = 0; i < 3; ++i) {
    s.enqueue(&flood, item(log, "flood", 100));
  }
  s.enqueue(&light, item(log, "light", 100));
  for (int i = 0; i < 40; ++i) {
    s.run_one();
  }
  EXPECT_EQ(count(log, 0, log.size()).at("light"), 10) << "one slice in four";
  EXPECT_EQ(s.size(), 4u);
}

TEST(TenantQuota, RequestRateIsExactAndRefusalsSayWhenToRetry) {
  config::tenant_limits l;
  l.requests_per_second = 10;
  l.request_burst = 5;
  tenant_account t("t", l);
  const auto now = std::chrono::steady_clock::time_point(1000s);
  for (int i = 0; i < 5; ++i) {
    const auto d = t.admit(now);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
  }
  const auto refused = t.admit(now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_STREQ(refused.quota, "requests");
  EXPECT_EQ(refused.retry_after, 1s);
  EXPECT_TRUE(t.admit(now + 100ms).allowed) << "one request's worth refilled";
  EXPECT_FALSE(t.admit(now + 100ms).allowed);
  EXPECT_EQ(t.requests(), 6u);
  EXPECT_EQ(t.refused(0), 2u);
}

TEST(TenantQuota, ComputeDebtPastTheBurstRefusesUntilItIsPaid) {
  config::tenant_limits l;
  l.compute_per_second = 0.5;  // half a core
  l.compute_burst = 1;         // one CPU second ahead
  tenant_account t("t", l);
  const auto now = std::chrono::steady_clock::now();
  EXPECT_TRUE(t.admit(now).allowed);
  t.charge_compute(3s, 0);  // 6 s of wall time at half a core, 2 s of it allowed ahead
  const auto d = t.admit(now);
  EXPECT_FALSE(d.allowed);
  EXPECT_STREQ(d.quota, "compute");
  EXPECT_GE(d.retry_after, 3s);
  EXPECT_LE(d.retry_after, 5s);
  EXPECT_TRUE(t.admit(now + 5s).allowed);
  // A changed limit starts afresh.
  t.set_limits({});
  EXPECT_TRUE(t.admit(now).allowed);
}
