#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "handlers/cluster/cluster_queue.hpp"
#include "handlers/request/script_catalog.hpp"
#include "server/worker.hpp"

namespace evald {

class script_table;
class exposition_writer;

// This process as a node of a cluster (cluster.redis set): on every worker, its own
// Redis connections (one for commands, one for the blocking fetch), a fetch loop
// that takes a job whenever the worker runs fewer than cluster.jobs_per_worker, and
// for each running job a heartbeat (lease renewal, progress, DELETE, the fence);
// worker 0 also reclaims jobs whose node stopped renewing them. No thread is added:
// everything runs as coroutines on the workers' io_contexts.
class cluster_node {
 public:
  // Throws std::invalid_argument for an unusable cluster.redis.
  cluster_node(const config::settings& settings, std::span<worker* const> workers,
               script_table& scripts);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  // Spawns the loops on every worker (before the workers run).
  void start();
  // How the node keeps the drain waiting while it hands its running jobs back
  // (server::hold_drain / release_drain). Set before start().
  void set_drain_hooks(std::function<void()> hold, std::function<void()> release) {
    hold_drain_ = std::move(hold);
    release_drain_ = std::move(release);
  }
  // At the drain: no new fetches; every running job (or part) stops at its next
  // slice and is handed back to the queue, claimable by another node at once
  // instead of after cluster.lease. Redis unreachable: it is reclaimed after the lease.
  void stop_fetching();
  // Before the workers are destroyed: closes every connection.
  void close();

  // For handlers on worker `w`'s thread.
  cluster_queue& queue(const worker& w);
  // Brings this node's mirror of the named scripts up to Redis's version (one GET
  // when nothing changed). Throws redis_unavailable.
  net::awaitable<void> sync_scripts(const worker& w);
  script_table& scripts() noexcept { return scripts_; }
  bool connected(const worker& w) const;
  const std::string& node_id() const noexcept { return node_id_; }
  // The node's own /metrics families (Redis links, claims, refused writes).
  void write_metrics(exposition_writer& w) const;
  // ", cluster connected" or ", cluster degraded (…)" naming the cause, for systemd.
  std::string status_suffix() const;
  // When this node last saw Redis come back without evald's data (unix ms; 0: never).
  std::int64_t data_lost_at() const noexcept { return data_lost_at_.load(); }

 private:
  struct agent;
  struct run_state;
  net::awaitable<void> fetch_loop(agent& a);
  net::awaitable<void> reclaim_loop(agent& a);
  net::awaitable<void> run_job(agent& a, cluster_queue::delivery d, cluster_queue::start_result s);
  // The mirror brought up to date if Redis answers, as it is otherwise.
  net::awaitable<std::shared_ptr<const script_catalog>> current_scripts(const worker& w);
  // Notes the data set's generation; a change means Redis lost its data. Any thread.
  void observe_generation(const std::string& generation);
  net::awaitable<void> heartbeat(agent& a, cluster_queue::delivery d, std::int64_t epoch,
                                 std::shared_ptr<run_state> st);

  const config::settings& settings_;
  std::function<void()> hold_drain_;
  std::function<void()> release_drain_;
  script_table& scripts_;
  std::string node_id_;
  std::vector<std::unique_ptr<agent>> agents_;
  std::atomic<std::int64_t> data_lost_at_{0};
  std::mutex generation_mutex_;
  std::string generation_;
};

// "<host name>-<pid>".
std::string default_node_id();

}  // namespace evald
