#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace evald {

// A counter or gauge written by one worker's thread only and read by a scrape on
// any thread. Single writer, so an update is a relaxed load and store (plain
// moves on x86, no locked instruction) and no cache line is shared between workers.
class metric_cell {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Request duration buckets (upper bounds, seconds): 50 µs to 10 s.
inline constexpr std::array<double, 17> duration_buckets = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};

// Routes get small indexes at registration; 0 is "no route" (404, parse errors).
inline constexpr std::size_t max_routes = 32;

enum class timeout_kind : std::uint8_t {
  header,
  body,
  keep_alive,
  write,
  linger,
  evaluation,
  handshake
};
inline constexpr std::size_t timeout_kinds = 7;
const char* timeout_kind_name(timeout_kind k) noexcept;

// How script evaluations ended (evald_script_evaluations_total{outcome}).
enum class script_outcome : std::uint8_t { ok, syntax, error, memory, burst, result, too_large };
inline constexpr std::size_t script_outcomes = 7;
const char* script_outcome_name(script_outcome o) noexcept;

// How TLS handshakes ended (evald_tls_handshakes_total{result}): a full handshake, a
// resumed session, or why none was made.
enum class tls_outcome : std::uint8_t {
  full,
  resumed,
  timeout,     // timeouts.handshake passed
  plain_http,  // an HTTP request on a TLS port (answered 400)
  not_tls,     // anything else that is not a TLS record
  closed,      // the client went away
  failed,      // OpenSSL refused it (protocol, cipher, certificate)
};
inline constexpr std::size_t tls_outcomes = 7;
const char* tls_outcome_name(tls_outcome o) noexcept;

struct route_metrics {
  std::array<metric_cell, 5> by_status_class;  // 1xx … 5xx
  // Per-bucket counts (not cumulative; the scrape sums them); the last is +Inf.
  std::array<metric_cell, duration_buckets.size() + 1> duration_bucket;
  metric_cell duration_ns_sum;
};

// Everything one worker counts. Owned by the worker; see metric_cell for why no
// counter here is shared.
struct alignas(64) worker_metrics {
  std::array<route_metrics, max_routes> routes;
  metric_cell requests_in_flight;
  metric_cell connections_open;
  metric_cell connections_accepted;  // by the listeners running on this worker
  metric_cell connections_rejected;  // over limits.max_connections → 503
  std::array<metric_cell, timeout_kinds> timeouts;
  metric_cell compute_queued;
  metric_cell compute_ns;  // thread CPU spent in compute slices
  metric_cell chunks_run;
  metric_cell evaluations;
  metric_cell evaluations_in_flight;  // admitted on this worker, not yet answered
  metric_cell evaluations_computing;  // jobs with a task (a share) on this worker now
  metric_cell evaluation_wall_ns;
  metric_cell evaluation_cpu_ns;
  metric_cell admission_rejected;
  metric_cell chargen_http_bytes;
  metric_cell chargen_tcp_bytes;
  std::array<metric_cell, script_outcomes> scripts;  // by script_outcome
  std::array<metric_cell, tls_outcomes> tls;         // by tls_outcome
  metric_cell conditions_evaluated;                  // Log Detector conditions
  metric_cell conditions_true;
  metric_cell conditions_failed;
  // Set by the worker's thread when its loop starts (platform::thread_cpu_clock()).
  std::atomic<std::uint64_t> cpu_clock{0};
  std::atomic<bool> cpu_clock_valid{false};

  void count(timeout_kind k) noexcept { timeouts[static_cast<std::size_t>(k)].add(); }
  void count(tls_outcome o) noexcept { tls[static_cast<std::size_t>(o)].add(); }
  // One answered request: its route, final status and time from first byte to the
  // response being queued.
  void observe_request(std::size_t route, unsigned status,
                       std::chrono::steady_clock::duration took) noexcept;
};

}  // namespace evald
