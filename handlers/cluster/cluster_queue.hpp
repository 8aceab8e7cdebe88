#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "handlers/cluster/redis_connection.hpp"

// The cluster job protocol on Redis 7 (docs/cluster.md):
// a stream with a consumer group is the queue, one hash per job holds its state, and
// every state change that must be atomic is one server-side Lua script. Execution is
// at least once; the visible result is written once: an epoch, raised by every
// start, fences heartbeats and the final write, so a node that was frozen or cut off
// cannot overwrite, renew or acknowledge a job another node now owns.
//
// Keys (prefix P, "evald:" by default; one job's keys share a hash tag):
//   P jobs                STREAM  entries {id}; group "workers", consumer = node id
//   P job:{id}            HASH    id status params submitted started finished progress
//                                 result owner epoch cancel deliveries keyed
//   P job:{id}:finishes   LIST    one element per accepted final write (an audit)
//   P index               ZSET    ids by submission time (GET /jobs, newest first)
//   P idempotency:{key}   STRING  the id of the job launched with this Idempotency-Key
//                                 (expires with the job)
//   P nodes               ZSET    node ids by their last announcement (once a second)
// A job split into parts (one big job across nodes, cluster_split.hpp) also has
//   P job:{id}            + split head timeout deadline parts limit done (deadline:
//                           set when the first part starts; limit: the parts
//                           still needed; a trial part that finds a factor lowers it)
//   P job:{id}:parts      HASH    part number → the part's body
//   P job:{id}:results    HASH    part number → its result (written once)
//   P job:{id}:epochs     HASH    part number → its epoch (fences a part's lease)
//   P job:{id}:nodes      SET     nodes that ran parts;  :workers  SET  node#worker
// and one stream entry {id, part} per part.
namespace evald {

// Now as unix milliseconds: every time in the protocol is one.
inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct cluster_job {
  std::string id;
  std::string status;  // queued, running, done, failed, cancelled, expired
  double progress = 0;
  std::int64_t submitted_ms = 0;
  std::optional<std::int64_t> started_ms;
  std::optional<std::int64_t> finished_ms;
  std::string result;  // JSON, when finished
  std::string owner;   // the node running it (or that ran it last)
  std::int64_t epoch = 0;
  std::int64_t parts = 0;  // a split job: its part count (0: run whole)
  std::int64_t parts_done = 0;
  std::vector<std::string> nodes;  // a split job: the nodes that ran its parts
  std::int64_t deadline_ms = 0;    // a split job once a part started (unix ms), else 0
  std::string tenant;              // who launched it
};

class cluster_queue {
 public:
  struct settings {
    std::string prefix = "evald:";
    std::string node_id;
    std::int64_t max_deliveries = 5;
    std::chrono::milliseconds job_ttl{600'000};
  };

  // One delivery of a job to this node: from the group (new) or reclaimed from a
  // node whose lease ran out.
  struct delivery {
    std::string id;
    std::string entry;       // the stream entry id
    std::int64_t part = -1;  // a part of a split job (-1: the whole job)
  };

  struct start_result {
    enum class kind { run, skip, dead } what = kind::skip;
    std::int64_t epoch = 0;
    std::int64_t deliveries = 0;
    std::string params;            // the launch body (a part's body), when `run`
    std::string split;             // a part: "trial" or "map"
    std::int64_t deadline_ms = 0;  // a part: the job's deadline (unix ms), 0 = none
    std::string tenant;            // who launched it ("" from a node before tenants)
  };
  // superseded: a part no longer needed (a lower part found the factor).
  enum class beat_result { ok, cancel, stale, superseded };
  // A part's result: recorded, or the job's final write done by it, or refused
  // (the part was done elsewhere already, or the job ended).
  enum class part_result { recorded, written, late };
  enum class finish_result { written, stale };
  enum class cancel_result { missing, cancelled, flagged, finished };

  cluster_queue(redis_connection& redis, settings s);

  // Creates the stream, the group and the data set's generation if missing
  // (idempotent); returns the generation.
  net::awaitable<std::string> prepare();
  // The data set's generation now ("" when Redis has none: it lost its data).
  net::awaitable<std::string> generation();
  // What a submit did: queued the job; found the job an idempotency key launched
  // (its id and status; nothing queued); refused a key sent with other params; or
  // found the id taken; or found the tenant at its cap of jobs queued or running.
  struct submit_result {
    enum class kind { queued, replayed, reused, exists, at_cap } what = kind::exists;
    std::string id;
    std::string status;
  };
  // Queues a job; returns once Redis has acknowledged it (fsynced with
  // appendfsync always). Atomic with the idempotency key's check ("" for none).
  net::awaitable<submit_result> submit(const std::string& id, const std::string& params,
                                       std::int64_t now_ms, const std::string& idempotency_key,
                                       const std::string& tenant = {},
                                       std::uint32_t max_active = 0);
  // Queues a job split into parts (every part an entry any node may take). Its
  // deadline is `timeout_ms` from when its first part starts.
  net::awaitable<submit_result> submit_split(const std::string& id, const std::string& params,
                                             std::int64_t now_ms, const std::string& kind,
                                             const std::string& head, std::int64_t timeout_ms,
                                             const std::vector<std::string>& parts,
                                             const std::string& idempotency_key,
                                             const std::string& tenant = {},
                                             std::uint32_t max_active = 0);
  // A split job past its deadline and not ended yet ends expired now; true if so.
  net::awaitable<bool> expire_if_late(const std::string& id, std::int64_t now_ms);
  // A new entry for this node, waiting up to `block` (use a connection of its own:
  // the wait holds it). Nothing within the wait: nullopt.
  static net::awaitable<std::optional<delivery>> fetch(redis_connection& blocking,
                                                       const settings& s,
                                                       std::chrono::milliseconds block);
  // Entries whose owner has not renewed them for `lease`, claimed for this node
  // (each claim counts as a delivery).
  net::awaitable<std::vector<delivery>> reclaim(std::chrono::milliseconds lease, int count);
  // Takes a delivered job: raises its epoch and marks it running for this node, or
  // says to skip it (finished, cancelled, gone) or that it is dead (delivered more
  // than max_deliveries times: it is marked failed instead of crashing another node).
  // A part is skipped when done already or no longer needed; `worker` labels where
  // it runs.
  net::awaitable<start_result> start(const delivery& d, std::int64_t now_ms,
                                     const std::string& worker = {});
  // The owner's heartbeat: progress, lease renewal; `cancel` when DELETE asked for it,
  // `stale` when another node owns the job now (stop at once).
  net::awaitable<beat_result> beat(const delivery& d, std::int64_t epoch, double progress);
  // The final write (status done, failed or expired, and the result), fenced and
  // written once; acknowledges and deletes the entry.
  net::awaitable<finish_result> finish(const delivery& d, std::int64_t epoch,
                                       const std::string& status, const std::string& result,
                                       std::int64_t now_ms);
  // A part's end: status "done" with its result, or "failed", "expired" or
  // "cancelled" with the error (the job ends so), or "superseded" (nothing written).
  // The part completing the job assembles and writes the job's result.
  net::awaitable<part_result> finish_part(const delivery& d, const std::string& status,
                                          const std::string& result, bool hit, std::int64_t now_ms);
  // A draining node hands a job (or part) back: its entry is made claimable at once
  // (idle `idle`, its delivery count restored) and a whole job is queued again.
  // `epoch` -1: a delivery it never started. False when it was not this node's any more.
  net::awaitable<bool> release(const delivery& d, std::int64_t epoch,
                               std::chrono::milliseconds idle);
  // DELETE /jobs/<id>: a queued job ends cancelled at once; a running one gets the
  // durable cancel flag its runner reads at its next heartbeat.
  net::awaitable<cancel_result> cancel(const std::string& id, std::int64_t now_ms);

  // Forgets a finished job at once (DELETE of a finished job), instead of at its TTL.
  net::awaitable<void> remove(const std::string& id);

  net::awaitable<std::optional<cluster_job>> get(const std::string& id);
  // Newest first (only `tenant`'s, or all for ""); ids whose job expired are dropped
  // from the index on the way.
  net::awaitable<std::vector<cluster_job>> newest(std::size_t limit,
                                                  const std::string& tenant = {});

  // Named scripts (P scripts: HASH name → source; P scripts:version: raised by every
  // change). The version alone, and every script with the version they belong to.
  // The counter restarts at 0 when Redis loses its data; the generation (set by
  // prepare) changes then, so (generation, counter) never repeats.
  struct script_version {
    std::string generation;
    std::int64_t counter = 0;
    bool operator==(const script_version&) const = default;
  };
  net::awaitable<script_version> scripts_version();
  net::awaitable<std::pair<script_version, std::map<std::string, std::string>>> all_scripts();
  // Writes (or deletes, with `source` null) one script if it is still what the
  // caller judged its preconditions against (`expected`: null = absent), within
  // scripts.max_named and the caps of the name's namespace ("<ns>/<name>"; 0 = none).
  enum class script_write {
    created,
    replaced,
    deleted,
    conflict,
    full,
    missing,
    over_count,
    over_bytes
  };
  net::awaitable<script_write> write_script(const std::string& name,
                                            const std::optional<std::string>& expected,
                                            const std::optional<std::string>& source,
                                            std::uint32_t max_named, std::uint64_t max_count = 0,
                                            std::uint64_t max_bytes = 0);

  // This node is alive (P nodes: ZSET node id → last announcement, unix ms).
  net::awaitable<void> announce(std::int64_t now_ms);
  // For the dashboard: jobs by status among the newest `limit` (cluster-wide), and
  // the nodes that announced themselves within `live`.
  struct overview {
    std::map<std::string, std::uint64_t> by_status;
    std::vector<std::string> nodes;
  };
  net::awaitable<overview> survey(std::size_t limit, std::int64_t now_ms,
                                  std::chrono::milliseconds live);

  // Throws redis_unavailable (naming the cause) unless Redis answers now and holds
  // evald's data set (a generation).
  net::awaitable<void> ping();

  const settings& config() const noexcept { return settings_; }
  std::string job_key(const std::string& id) const;
  std::string keyed_key(const std::string& idempotency_key, const std::string& tenant) const;
  std::string live_key(const std::string& tenant) const;
  static submit_result submitted(const redis_reply& r);

 private:
  net::awaitable<redis_reply> script(const std::string& body, std::vector<std::string> keys,
                                     std::vector<std::string> args);

  redis_connection& redis_;
  settings settings_;
};

}  // namespace evald
