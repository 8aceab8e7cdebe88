#include "server/tenant.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "server/response.hpp"

namespace evald {
namespace {

constexpr double ns_per_s = 1e9;

// A burst of 0 means one second's worth (at least one request, or one CPU second).
double effective_burst(double rate, double burst) {
  return burst > 0 ? burst : std::max(1.0, rate);
}

std::int64_t ceil_seconds(std::int64_t ns) {
  return std::max<std::int64_t>(1, (ns + 999'999'999) / 1'000'000'000);
}

}  // namespace

tenant_account::tenant_account(std::string name, const config::tenant_limits& limits)
    : name_(std::move(name)),
      limits_(limits),
      weight_(limits.weight),
      request_rate_(limits.requests_per_second),
      request_burst_(effective_burst(limits.requests_per_second, limits.request_burst)),
      compute_rate_(limits.compute_per_second),
      compute_burst_(effective_burst(limits.compute_per_second, limits.compute_burst)) {}

config::tenant_limits tenant_account::limits() const {
  const std::lock_guard lock(limits_mutex_);
  return limits_;
}

void tenant_account::set_limits(const config::tenant_limits& limits) {
  const std::lock_guard lock(limits_mutex_);
  // A changed rate starts afresh: a debt run up at the old rate would otherwise outlast
  // the change by as long as the old rate made it.
  if (limits.requests_per_second != limits_.requests_per_second ||
      limits.request_burst != limits_.request_burst) {
    request_tat_.store(0, std::memory_order_relaxed);
  }
  if (limits.compute_per_second != limits_.compute_per_second ||
      limits.compute_burst != limits_.compute_burst) {
    compute_tat_.store(0, std::memory_order_relaxed);
  }
  limits_ = limits;
  weight_.store(limits.weight, std::memory_order_relaxed);
  request_rate_.store(limits.requests_per_second, std::memory_order_relaxed);
  request_burst_.store(effective_burst(limits.requests_per_second, limits.request_burst),
                       std::memory_order_relaxed);
  compute_rate_.store(limits.compute_per_second, std::memory_order_relaxed);
  compute_burst_.store(effective_burst(limits.compute_per_second, limits.compute_burst),
                       std::memory_order_relaxed);
}

quota_decision tenant_account::admit(std::chrono::steady_clock::time_point when) {
  quota_decision d;
  const std::int64_t now = when.time_since_epoch().count();
  // Compute first: it only reads, so a refusal for compute spends no request credit.
  if (const double rate = compute_rate_.load(std::memory_order_relaxed); rate > 0) {
    const double burst = compute_burst_.load(std::memory_order_relaxed);
    const auto ahead = static_cast<std::int64_t>(burst / rate * ns_per_s);
    const std::int64_t tat = compute_tat_.load(std::memory_order_relaxed);
    if (tat - now > ahead) {
      refused_[1].fetch_add(1, std::memory_order_relaxed);
      d.allowed = false;
      d.quota = "compute";
      d.retry_after = std::chrono::seconds(ceil_seconds(tat - now - ahead));
      return d;
    }
  }
  if (const double rate = request_rate_.load(std::memory_order_relaxed); rate > 0) {
    const double burst = request_burst_.load(std::memory_order_relaxed);
    const auto period = static_cast<std::int64_t>(ns_per_s / rate);
    const auto window = static_cast<std::int64_t>(burst * static_cast<double>(period));
    std::int64_t tat = request_tat_.load(std::memory_order_relaxed);
    std::int64_t next = 0;
    do {
      next = std::max(tat, now) + period;
      if (next - now > window) {
        refused_[0].fetch_add(1, std::memory_order_relaxed);
        d.allowed = false;
        d.quota = "requests";
        d.retry_after = std::chrono::seconds(ceil_seconds(next - now - window));
        d.limit = burst;
        d.window_s = ceil_seconds(window);
        d.remaining = 0;
        d.reset_s = ceil_seconds(tat - now);
        return d;
      }
    } while (!request_tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed));
    d.limit = burst;
    d.window_s = ceil_seconds(window);
    d.remaining =
        std::max<std::int64_t>(0, (window - (next - now)) / std::max<std::int64_t>(period, 1));
    d.reset_s = ceil_seconds(next - now);
  }
  requests_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

void tenant_account::charge_compute(std::chrono::nanoseconds cpu, std::size_t worker) noexcept {
  if (cpu.count() <= 0) {
    return;
  }
  compute_ns_.fetch_add(static_cast<std::uint64_t>(cpu.count()), std::memory_order_relaxed);
  worker_compute_ns_[std::min(worker, max_workers - 1)].fetch_add(
      static_cast<std::uint64_t>(cpu.count()), std::memory_order_relaxed);
  const double rate = compute_rate_.load(std::memory_order_relaxed);
  if (rate <= 0) {
    return;
  }
  // The CPU time, spread over wall time at the tenant's rate, moves its debt on.
  const auto owed = static_cast<std::int64_t>(static_cast<double>(cpu.count()) / rate);
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::int64_t tat = compute_tat_.load(std::memory_order_relaxed);
  while (!compute_tat_.compare_exchange_weak(tat, std::max(tat, now) + owed,
                                             std::memory_order_relaxed)) {
  }
}

std::shared_ptr<tenant_account> tenant_registry::account(const std::string& name,
                                                         const config::tenant_limits& limits) {
  const std::lock_guard lock(mutex_);
  auto& slot = accounts_[name];
  if (!slot) {
    slot = std::make_shared<tenant_account>(name, limits);
  } else if (slot->limits() != limits) {
    slot->set_limits(limits);
  }
  return slot;
}

std::shared_ptr<tenant_account> tenant_registry::named(const std::string& name) {
  const std::lock_guard lock(mutex_);
  auto& slot = accounts_[name];
  if (!slot) {
    slot = std::make_shared<tenant_account>(name, defaults_);
  }
  return slot;
}

std::vector<std::shared_ptr<tenant_account>> tenant_registry::all() const {
  const std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<tenant_account>> out;
  out.reserve(accounts_.size());
  for (const auto& [name, account] : accounts_) {
    out.push_back(account);
  }
  return out;
}

void add_rate_limit_fields(response& res, const quota_decision& d) {
  if (d.limit <= 0) {
    return;
  }
  // draft-ietf-httpapi-ratelimit-headers-08: a policy named "requests" of q requests
  // per w seconds; r of them left, whole again in t seconds.
  const auto q = static_cast<std::int64_t>(std::floor(d.limit));
  res.add_header("RateLimit-Policy",
                 "\"requests\";q=" + std::to_string(q) + ";w=" + std::to_string(d.window_s));
  res.add_header("RateLimit", "\"requests\";r=" + std::to_string(d.remaining) +
                                  ";t=" + std::to_string(d.reset_s));
}

void set_quota_exceeded(response& res, const tenant_account& tenant, const quota_decision& d) {
  const std::string retry = std::to_string(d.retry_after.count());
  const bool compute = std::string_view(d.quota) == "compute";
  const auto limits = tenant.limits();
  std::string message;
  if (compute) {
    message = "tenant \"" + tenant.name() + "\" has used its compute quota (" +
              nlohmann::json(limits.compute_per_second).dump() +
              " CPU seconds per second); retry in " + retry + " s";
  } else {
    message = "tenant \"" + tenant.name() + "\" is over its request rate (" +
              nlohmann::json(limits.requests_per_second).dump() + " per second); retry in " +
              retry + " s";
  }
  set_error(res, http::status::too_many_requests, "quota_exceeded", message,
            {{"quota", compute ? "\"compute\"" : "\"requests\""},
             {"tenant", "\"" + tenant.name() + "\""}});
  res.add_header("Retry-After", retry);
  if (compute) {
    // Quota units: CPU milliseconds per one-second window.
    res.add_header(
        "RateLimit-Policy",
        "\"compute\";q=" + std::to_string(std::llround(limits.compute_per_second * 1000)) + ";w=1");
    res.add_header("RateLimit", "\"compute\";r=0;t=" + retry);
  } else {
    add_rate_limit_fields(res, d);
  }
}

}  // namespace evald
