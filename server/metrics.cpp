#include "server/metrics.hpp"

#include <algorithm>

namespace evald {

const char* script_outcome_name(script_outcome o) noexcept {
  static constexpr const char* names[script_outcomes] = {"ok",    "syntax", "error",    "memory",
                                                         "burst", "result", "too_large"};
  return names[static_cast<std::size_t>(o)];
}

const char* timeout_kind_name(timeout_kind k) noexcept {
  switch (k) {
    case timeout_kind::header:
      return "header";
    case timeout_kind::body:
      return "body";
    case timeout_kind::keep_alive:
      return "keep_alive";
    case timeout_kind::write:
      return "write";
    case timeout_kind::linger:
      return "linger";
    case timeout_kind::evaluation:
      return "evaluation";
    case timeout_kind::handshake:
      return "handshake";
  }
  return "unknown";
}

const char* tls_outcome_name(tls_outcome o) noexcept {
  static constexpr const char* names[tls_outcomes] = {"full",    "resumed", "timeout", "plain_http",
                                                      "not_tls", "closed",  "failed"};
  return names[static_cast<std::size_t>(o)];
}

void worker_metrics::observe_request(std::size_t route, unsigned status,
                                     std::chrono::steady_clock::duration took) noexcept {
  route_metrics& r = routes[route < max_routes ? route : 0];
  const unsigned status_class = std::clamp(status / 100, 1U, 5U);
  r.by_status_class[status_class - 1].add();
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()));
  // Buckets in nanoseconds, compared as integers on the hot path.
  static constexpr auto bounds_ns = [] {
    std::array<std::uint64_t, duration_buckets.size()> b{};
    for (std::size_t i = 0; i < b.size(); ++i) {
      b[i] = static_cast<std::uint64_t>(duration_buckets[i] * 1e9 + 0.5);
    }
    return b;
  }();
  const auto at = std::lower_bound(bounds_ns.begin(), bounds_ns.end(), ns) - bounds_ns.begin();
  r.duration_bucket[static_cast<std::size_t>(at)].add();
  r.duration_ns_sum.add(ns);
}

}  // namespace evald
