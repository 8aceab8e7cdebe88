#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "handlers/store/job_store.hpp"
#include "server/net.hpp"

namespace evald {

class backend;
class worker;

// The figures of the dashboard (GET /, /stats, /stats/stream): once a second, on
// worker 0, every worker's counters are read (they are single-writer atomics, see
// metric_cell), turned into rates over the last second and serialised once, as JSON
// and as a server-sent event, whatever the number of subscribers. 60 s are kept.
// Everything shown is also in a /metrics scrape (the same counters).
class stats_hub {
 public:
  static constexpr auto interval = std::chrono::seconds(1);
  static constexpr std::size_t history_length = 60;

  // Jobs are counted by `stores` (this node's, or cluster-wide with the live nodes).
  stats_hub(const config::settings& settings, std::span<worker* const> workers, backend& stores);
  stats_hub(const stats_hub&) = delete;
  stats_hub& operator=(const stats_hub&) = delete;

  // Spawns the sampler on worker 0 (before the workers run); stop() ends it.
  void start();
  void stop();

  struct event {
    std::uint64_t sequence = 0;                // 0: nothing published yet
    std::shared_ptr<const std::string> json;   // the snapshot
    std::shared_ptr<const std::string> frame;  // the same as one SSE event
  };
  // Any thread.
  event latest() const;
  std::uint64_t sequence() const noexcept { return sequence_.load(std::memory_order_acquire); }
  // {"interval_ms":1000,"current":{…},"history":[{…},…]} (oldest first).
  std::string document() const;
  // When the next snapshot is due.
  std::chrono::steady_clock::time_point next_due() const;

  // /stats/stream subscribers: a slot, or false at dashboard.max_streams.
  bool try_subscribe() noexcept;
  void unsubscribe() noexcept;
  std::uint32_t subscribers() const noexcept { return subscribers_.load(); }

 private:
  struct raw_worker {
    std::uint64_t busy_ns = 0;
    std::uint64_t compute_ns = 0;
    std::uint64_t requests = 0;
  };
  struct raw {
    std::chrono::steady_clock::time_point at;
    std::vector<raw_worker> workers;
    std::uint64_t chargen_bytes = 0;
    std::uint64_t rejected = 0;
    // Each tenant's CPU nanoseconds on each worker (for its share of each worker).
    std::map<std::string, std::vector<std::uint64_t>> tenants;
  };
  net::awaitable<void> run();
  raw read_counters() const;
  std::string snapshot_json(const raw& now, const raw& before) const;

  const config::settings& settings_;
  std::vector<worker*> workers_;
  backend& stores_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  bool stopping_ = false;  // worker 0 only
  std::unique_ptr<net::steady_timer> timer_;

  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<const std::string>> history_;
  event latest_;
  std::chrono::steady_clock::time_point next_due_;
  job_overview jobs_;  // as last surveyed
  std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::uint32_t> subscribers_{0};
};

}  // namespace evald
