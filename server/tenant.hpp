#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace evald {

struct response;

// What a tenant's quota said about one more request.
struct quota_decision {
  bool allowed = true;
  const char* quota = "";               // "requests" or "compute" when refused
  std::chrono::seconds retry_after{0};  // refused: when to try again (≥ 1 s)
  // For the RateLimit fields of a tenant with a request rate (0 = none): the burst,
  // its window in seconds, what is left of it and when it is whole again.
  double limit = 0;
  std::int64_t window_s = 0;
  std::int64_t remaining = 0;
  std::int64_t reset_s = 0;
};

// One tenant's live accounts, shared by every worker (atomics, no lock on the request
// path): its limits, the state of its request rate and compute quota, and counters for
// /metrics. Lives as long as the server (the registry never forgets a tenant), so a
// key reload keeps the rates it has used.
class tenant_account {
 public:
  tenant_account(std::string name, const config::tenant_limits& limits);

  const std::string& name() const noexcept { return name_; }
  config::tenant_limits limits() const;
  void set_limits(const config::tenant_limits& limits);
  double weight() const noexcept { return weight_.load(std::memory_order_relaxed); }

  // One more request to a route that needs a key: the request rate (GCRA: a request
  // moves the tenant's theoretical arrival time on by 1/rate; refused when that runs
  // more than the burst ahead of now) and the compute quota (refused while the
  // tenant's CPU debt exceeds its burst). Counts the request or the refusal.
  quota_decision admit(std::chrono::steady_clock::time_point now);
  // CPU time its evaluations used (a compute slice on any worker, an inline run), on
  // worker `worker`: charged to its compute quota and counted for that worker's share.
  void charge_compute(std::chrono::nanoseconds cpu, std::size_t worker) noexcept;
  // CPU nanoseconds it used on one worker (workers past the 64th count as the 64th).
  static constexpr std::size_t max_workers = 64;
  std::uint64_t worker_compute_ns(std::size_t worker) const noexcept {
    return worker_compute_ns_[std::min(worker, max_workers - 1)].load(std::memory_order_relaxed);
  }

  // For /metrics.
  std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t refused(int quota) const noexcept {
    return refused_[quota].load(std::memory_order_relaxed);
  }
  std::uint64_t forbidden() const noexcept { return forbidden_.load(std::memory_order_relaxed); }
  void count_forbidden() noexcept { forbidden_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t compute_ns() const noexcept { return compute_ns_.load(std::memory_order_relaxed); }
  // Compute slices queued for it on all workers (maintained by the schedulers).
  std::atomic<std::int64_t> queued_slices{0};

 private:
  std::string name_;
  mutable std::mutex limits_mutex_;  // a reload against a /metrics read; never per request
  config::tenant_limits limits_;
  // Copies of the limits the request path reads, so it takes no lock.
  std::atomic<double> weight_;
  std::atomic<double> request_rate_;
  std::atomic<double> request_burst_;
  std::atomic<double> compute_rate_;
  std::atomic<double> compute_burst_;
  // GCRA states, steady-clock nanoseconds: when the tenant's requests (and its CPU
  // time, spread at its compute rate) would be paid off.
  std::atomic<std::int64_t> request_tat_{0};
  std::atomic<std::int64_t> compute_tat_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> refused_[2] = {};  // 0 requests, 1 compute
  std::atomic<std::uint64_t> forbidden_{0};
  std::atomic<std::uint64_t> compute_ns_{0};
  std::array<std::atomic<std::uint64_t>, max_workers> worker_compute_ns_{};
};

// Every tenant the server has seen, by name (bounded by the keys file's tenants plus
// "anonymous"). Any thread.
class tenant_registry {
 public:
  explicit tenant_registry(config::tenant_limits defaults) : defaults_(defaults) {}
  // The tenant's account with these limits (created at first use, updated after).
  std::shared_ptr<tenant_account> account(const std::string& name,
                                          const config::tenant_limits& limits);
  // The tenant's account as it is, or a new one with the defaults (a job launched on
  // another node by a tenant this node's keys file does not name).
  std::shared_ptr<tenant_account> named(const std::string& name);
  const config::tenant_limits& defaults() const noexcept { return defaults_; }
  std::vector<std::shared_ptr<tenant_account>> all() const;

 private:
  config::tenant_limits defaults_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<tenant_account>> accounts_;
};

// The 429 for a refused request: JSON body naming the quota and the tenant,
// Retry-After, and RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers).
void set_quota_exceeded(response& res, const tenant_account& tenant, const quota_decision& d);
// The RateLimit fields of an admitted request of a tenant with a request rate.
void add_rate_limit_fields(response& res, const quota_decision& d);

}  // namespace evald
