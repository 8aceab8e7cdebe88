#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/parallel.hpp"

namespace evald {

// Launched evaluations (POST /eval-launch), shared by every worker. Jobs are rare
// next to requests, so one mutex guards the map; nothing on the request hot path
// touches it. Bounded (jobs.max); finished jobs are forgotten after jobs.ttl.
class job_table {
 public:
  enum class state : std::uint8_t { queued, running, done, failed, cancelled, expired };

  struct snapshot {
    std::string id;
    std::string tenant;
    state status = state::queued;
    double progress = 0;
    std::chrono::system_clock::time_point submitted;
    std::optional<std::chrono::system_clock::time_point> started;
    std::optional<std::chrono::system_clock::time_point> finished;
    std::string result;  // JSON object: the /eval body, or {"error":{...}}
  };

  job_table(std::uint32_t max_jobs, std::chrono::milliseconds ttl,
            std::uint64_t max_result_bytes = 256 * 1024 * 1024)
      : max_(max_jobs), ttl_(ttl), max_result_bytes_(max_result_bytes) {}

  // A new queued job with an unguessable id, or nullopt when the store is full (jobs.max
  // jobs, or jobs.max_results_size bytes of results kept).
  std::optional<std::string> create(const std::string& tenant = {});
  // The same with an idempotency key: the job this key launched while the table keeps
  // it (replayed), else a new one that remembers the key and `fingerprint` (the exact
  // request, kept with the job and counted with the results). Throws
  // idempotency_key_reused when the key came with a different request.
  struct created {
    std::string id;
    bool replayed = false;
    state status = state::queued;
  };
  // With `max_active` (not 0): throws tenant_jobs_quota when `tenant` has that many
  // jobs queued or running.
  std::optional<created> create(const std::string& key, std::string fingerprint,
                                const std::string& tenant = {}, std::uint32_t max_active = 0);
  // Called by the job's runner. start() returns false if it was cancelled while queued.
  bool start(const std::string& id);
  void set_job(const std::string& id, std::shared_ptr<parallel_job> job);
  void finish(const std::string& id, state final_state, std::string result);
  // DELETE: cancels a queued or running job (its computation stops at the next chunk)
  // and keeps it until the TTL; removes a finished one at once, freeing its result.
  // The job as it was left, or nullopt when there is none.
  std::optional<snapshot> cancel(const std::string& id);
  // Bytes of results kept now (for tests and /metrics).
  std::uint64_t result_bytes();
  // Cancels every queued and running job (graceful shutdown); returns their ids.
  std::vector<std::string> cancel_all();

  std::optional<snapshot> get(const std::string& id);
  std::vector<snapshot> newest(std::size_t limit, const std::string& tenant = {});
  // Jobs kept now, by state (indexed by state), for /metrics.
  static constexpr std::size_t state_count = 6;
  std::array<std::uint64_t, state_count> count_by_state();

  static const char* name(state s);

 private:
  struct record {
    snapshot info;
    std::shared_ptr<parallel_job> job;
    std::chrono::steady_clock::time_point forget_at = std::chrono::steady_clock::time_point::max();
    std::uint64_t sequence = 0;
    std::string idempotency_key;  // "" for none
    std::string fingerprint;      // the request the key was sent with
  };
  void forget_locked(std::map<std::string, record>::iterator it);
  void purge_locked();
  void cancel_locked(record& r);
  snapshot view_locked(const record& r) const;

  std::mutex mutex_;
  std::map<std::string, record> jobs_;
  std::map<std::string, std::string> keyed_;  // idempotency key → job id
  std::uint64_t sequence_ = 0;
  std::uint32_t max_;
  std::chrono::milliseconds ttl_;
  std::uint64_t max_result_bytes_;
  std::uint64_t result_bytes_ = 0;
};

// 128 random bits as 32 hex digits (getrandom).
std::string random_job_id();

}  // namespace evald
