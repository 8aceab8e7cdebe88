#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handlers/request/eval_request.hpp"
#include "server/net.hpp"

namespace evald {

// A launched job as a client sees it (GET /jobs/<id>), whichever backend keeps it.
struct job_view {
  std::string id;
  std::string tenant;  // who launched it (its owner)
  std::string status;  // queued, running, done, failed, cancelled, expired
  double progress = 0;
  std::int64_t submitted_ms = 0;  // unix ms
  std::optional<std::int64_t> started_ms;
  std::optional<std::int64_t> finished_ms;
  std::string result;  // JSON object once finished: the /eval body, or {"error":{...}}
  // A backend with several nodes names the one running it (or that ran it last; ""
  // while queued); nullopt where there is one node only.
  std::optional<std::string> node;
  // A job split across nodes: its parts, how many are done, and the nodes that ran them.
  std::int64_t parts = 0;
  std::int64_t parts_done = 0;
  std::vector<std::string> nodes;
};

// What POST /eval-launch hands a store: the request, parsed and validated, with its
// named scripts resolved, and the body it came from (a store that keeps the job
// elsewhere keeps the body and reads it again where the job runs).
struct job_launch {
  eval_request request;
  std::string_view body;            // lives until submit() completes
  bool timeout_from_query = false;  // ?timeout_ms= set request.timeout_ms
  // The client's Idempotency-Key ("" for none): a launch with a key the store holds
  // returns that job instead of a new one, as long as the store keeps the job. Keys
  // are per tenant.
  std::string idempotency_key;
  std::string tenant;  // the job's owner
  // The owner's max_jobs (0: none): a new job past it throws tenant_jobs_quota (429).
  std::uint32_t max_active = 0;
};

// What submit() did: queued a new job, or found the one launched with the same key.
struct job_submitted {
  std::string id;
  bool replayed = false;
  std::string status = "queued";  // the job's status now (a replay's may be later)
};

// Jobs by status, for the dashboard and /metrics.
struct job_overview {
  bool reachable = true;
  std::vector<std::pair<std::string, std::uint64_t>> by_status;
  // The live nodes, for a backend that has several (nullopt: this node alone).
  std::optional<std::vector<std::string>> nodes;
};

// Launched jobs (POST /eval-launch, GET/DELETE /jobs/<id>, GET /jobs). One instance
// per worker, called on that worker's thread only; every call is an awaitable of the
// worker (the memory store completes without suspending). A store that cannot reach
// its engine throws store_unavailable (503); a full store throws too_many_jobs (503);
// a key the store holds for a different request throws idempotency_key_reused (422).
class job_store {
 public:
  virtual ~job_store() = default;
  // Queues the job and returns its id once the store has it (the 202). With an
  // idempotency key the store already holds for the same request (its body and
  // parameters): that job, replayed, and nothing is queued.
  virtual net::awaitable<job_submitted> submit(job_launch launch) = 0;
  virtual net::awaitable<std::optional<job_view>> get(const std::string& id) = 0;
  // DELETE: a queued or running job is cancelled (its computation stops at the next
  // slice); a finished one is removed. The job as it was left, or nullopt for none.
  virtual net::awaitable<std::optional<job_view>> cancel(const std::string& id) = 0;
  // Newest first, results left out; only `tenant`'s jobs, or every job for "".
  virtual net::awaitable<std::vector<job_view>> newest(std::size_t limit,
                                                       const std::string& tenant) = 0;
  virtual net::awaitable<job_overview> overview() = 0;
};

}  // namespace evald
