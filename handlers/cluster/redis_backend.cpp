#include "handlers/cluster/redis_backend.hpp"

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "handlers/cluster/cluster_node.hpp"
#include "handlers/cluster/cluster_split.hpp"
#include "handlers/store/job_table.hpp"
#include "handlers/store/script_table.hpp"
#include "handlers/store/store_errors.hpp"
#include "server/metrics_text.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

job_view view_of(cluster_job j) {
  job_view v;
  v.id = std::move(j.id);
  v.tenant = std::move(j.tenant);
  v.status = std::move(j.status);
  v.progress = j.progress;
  v.submitted_ms = j.submitted_ms;
  v.started_ms = j.started_ms;
  v.finished_ms = j.finished_ms;
  v.result = std::move(j.result);
  v.node = std::move(j.owner);
  v.parts = j.parts;
  v.parts_done = j.parts_done;
  v.nodes = std::move(j.nodes);
  return v;
}

// The cluster-wide counts and live nodes, as the dashboard last surveyed them.
struct survey_cache {
  std::mutex mutex;
  std::optional<job_overview> last;
};

class redis_job_store final : public job_store {
 public:
  redis_job_store(cluster_node& node, const worker& w, const config::settings& settings,
                  survey_cache& survey)
      : node_(node), w_(w), settings_(settings), survey_(survey) {}

  net::awaitable<job_submitted> submit(job_launch launch) override {
    // 202 only once Redis has acknowledged the job; any node may run it.
    const std::string id = random_job_id();
    const eval_request& er = launch.request;
    const auto plan = plan_split(er, launch.body, settings_);
    // A split job's time is the job's, over all its parts, from its first part's start.
    const auto cap = static_cast<std::uint64_t>(settings_.limits.max_eval_time.count());
    const auto timeout = static_cast<std::int64_t>(std::min(er.timeout_ms.value_or(cap), cap));
    // The node that runs it parses the body again: a ?timeout_ms= goes into it.
    std::string params(launch.body);
    if (launch.timeout_from_query && er.timeout_ms) {
      auto j = nlohmann::ordered_json::parse(params);
      j["timeout_ms"] = *er.timeout_ms;
      params = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    std::optional<std::string> unavailable;
    cluster_queue::submit_result r;
    try {
      auto& queue = node_.queue(w_);
      if (plan) {
        r = co_await queue.submit_split(id, params, now_ms(), plan->kind, plan->head, timeout,
                                        plan->parts, launch.idempotency_key, launch.tenant,
                                        launch.max_active);
      } else {
        r = co_await queue.submit(id, params, now_ms(), launch.idempotency_key, launch.tenant,
                                  launch.max_active);
      }
    } catch (const redis_unavailable& e) {
      unavailable = e.what();
    }
    if (unavailable) {
      throw store_unavailable(*unavailable);
    }
    switch (r.what) {
      case cluster_queue::submit_result::kind::queued:
        co_return job_submitted{id};
      case cluster_queue::submit_result::kind::replayed:
        co_return job_submitted{r.id, true, r.status};
      case cluster_queue::submit_result::kind::reused:
        throw idempotency_key_reused();
      case cluster_queue::submit_result::kind::at_cap:
        throw tenant_jobs_quota(launch.tenant, launch.max_active);
      case cluster_queue::submit_result::kind::exists:
        break;
    }
    // 128 random bits met an id in use: never seen, but not a job to hand out twice.
    throw store_unavailable("a new job id was already in use");
  }

  net::awaitable<std::optional<job_view>> get(const std::string& id) override {
    std::optional<cluster_job> j;
    try {
      auto& queue = node_.queue(w_);
      j = co_await queue.get(id);
      // A split job past its deadline shows expired at once, on any node, and stays so.
      if (j && (j->status == "queued" || j->status == "running") && j->deadline_ms > 0 &&
          now_ms() >= j->deadline_ms) {
        const bool expired = co_await queue.expire_if_late(id, now_ms());
        if (expired) {
          j = co_await queue.get(id);
        }
      }
    } catch (const redis_unavailable& e) {
      throw store_unavailable(e.what());
    }
    if (!j) {
      throw_if_lost(id);
    }
    co_return j ? std::optional<job_view>(view_of(std::move(*j))) : std::nullopt;
  }

  net::awaitable<std::optional<job_view>> cancel(const std::string& id) override {
    std::optional<cluster_job> j;
    try {
      auto& queue = node_.queue(w_);
      const auto outcome = co_await queue.cancel(id, now_ms());
      if (outcome != cluster_queue::cancel_result::missing) {
        j = co_await queue.get(id);
      }
      if (outcome == cluster_queue::cancel_result::finished) {
        co_await queue.remove(id);  // as the memory store: its result is freed now
      }
    } catch (const redis_unavailable& e) {
      throw store_unavailable(e.what());
    }
    co_return j ? std::optional<job_view>(view_of(std::move(*j))) : std::nullopt;
  }

  net::awaitable<std::vector<job_view>> newest(std::size_t limit,
                                               const std::string& tenant) override {
    std::vector<job_view> out;
    try {
      auto list = co_await node_.queue(w_).newest(limit, tenant);
      for (auto& j : list) {
        out.push_back(view_of(std::move(j)));
      }
    } catch (const redis_unavailable& e) {
      throw store_unavailable(e.what());
    }
    co_return out;
  }

  net::awaitable<job_overview> overview() override {
    job_overview o;
    o.nodes.emplace();
    try {
      const auto live = std::chrono::milliseconds(10'000);
      auto s = co_await node_.queue(w_).survey(1000, now_ms(), live);
      o.by_status.assign(s.by_status.begin(), s.by_status.end());
      *o.nodes = std::move(s.nodes);
    } catch (const std::exception&) {
      o.reachable = false;
    }
    const std::lock_guard lock(survey_.mutex);
    survey_.last = o;
    co_return o;
  }

 private:
  // A job Redis does not have, after Redis lost its data: a 404 that says so.
  void throw_if_lost(const std::string& id) const {
    if (const auto at = node_.data_lost_at(); at != 0) {
      throw http_error(http::status::not_found, "not_found",
                       "no job " + id + ": the cluster store (Redis) lost its data at " +
                           std::to_string(at / 1000) +
                           " (unix time); jobs launched before then are gone");
    }
  }

  cluster_node& node_;
  const worker& w_;
  const config::settings& settings_;
  survey_cache& survey_;
};

// This node's mirror of the scripts in Redis, brought up to date before every read,
// and written through Redis with a compare-and-set on what the condition was judged
// against (a concurrent change on another node → precondition_failed).
class redis_script_store final : public script_store {
 public:
  redis_script_store(cluster_node& node, const worker& w, std::uint32_t max)
      : node_(node), w_(w), max_(max) {}

  net::awaitable<std::shared_ptr<const script_catalog>> current() override {
    std::optional<std::string> unavailable;
    try {
      co_await node_.sync_scripts(w_);
    } catch (const redis_unavailable& e) {
      unavailable = e.what();
    }
    if (unavailable) {
      throw store_unavailable(*unavailable);
    }
    co_return node_.scripts().snapshot();
  }

  net::awaitable<write_result> write(const std::string& name, std::optional<std::string> source,
                                     const condition& when, quota caps) override {
    cluster_queue::script_write outcome{};
    std::optional<std::string> unavailable;
    bool refused = false;
    try {
      co_await node_.sync_scripts(w_);
      const auto catalog = node_.scripts().snapshot();
      const script_entry* current = catalog->find(name);
      if (when && !when(current)) {
        refused = true;
      } else {
        // (Built before the co_await: GCC 12 miscompiles a conditional operator's
        // temporary inside a co_await expression.)
        std::optional<std::string> expected;
        if (current != nullptr) {
          expected = *current->source;
        }
        outcome = co_await node_.queue(w_).write_script(name, expected, source, max_,
                                                        caps.max_count, caps.max_bytes);
        co_await node_.sync_scripts(w_);
      }
    } catch (const redis_unavailable& e) {
      unavailable = e.what();
    }
    if (unavailable) {
      throw store_unavailable(*unavailable);
    }
    if (refused) {
      co_return write_result::precondition_failed;
    }
    switch (outcome) {
      case cluster_queue::script_write::created:
        co_return write_result::created;
      case cluster_queue::script_write::replaced:
        co_return write_result::replaced;
      case cluster_queue::script_write::deleted:
        co_return write_result::deleted;
      case cluster_queue::script_write::missing:
        co_return write_result::absent;
      case cluster_queue::script_write::full:
        co_return write_result::full;
      case cluster_queue::script_write::over_count:
        co_return write_result::over_count;
      case cluster_queue::script_write::over_bytes:
        co_return write_result::over_bytes;
      case cluster_queue::script_write::conflict:
        break;
    }
    co_return write_result::precondition_failed;
  }

 private:
  cluster_node& node_;
  const worker& w_;
  std::uint32_t max_;
};

class redis_backend final : public backend {
 public:
  redis_backend(const config::settings& settings, std::span<worker* const> workers,
                drain_hooks drain)
      : node_(settings, workers, scripts_) {
    node_.set_drain_hooks(std::move(drain.hold), std::move(drain.release));
    for (worker* w : workers) {
      jobs_.push_back(std::make_unique<redis_job_store>(node_, *w, settings, survey_));
      scripts_by_worker_.push_back(
          std::make_unique<redis_script_store>(node_, *w, settings.scripts.max_named));
    }
  }

  job_store& jobs(const worker& w) override { return *jobs_.at(w.index()); }
  script_store& scripts(const worker& w) override { return *scripts_by_worker_.at(w.index()); }

  net::awaitable<std::string> ready(const worker& w) override {
    std::optional<std::string> unavailable;
    try {
      co_await node_.queue(w).ping();
    } catch (const std::exception& e) {
      unavailable = e.what();
    }
    if (unavailable) {
      throw store_unavailable(*unavailable);
    }
    co_return nlohmann::ordered_json{
        {"status", "ready"}, {"cluster", "connected"}, {"node", node_.node_id()}}
        .dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }

  void start() override { node_.start(); }
  // Running cluster jobs stop and go back to the queue; the drain waits for that.
  void drain() override { node_.stop_fetching(); }
  void close() override { node_.close(); }

  void write_metrics(exposition_writer& w) override {
    node_.write_metrics(w);
    std::optional<job_overview> last;
    {
      const std::lock_guard lock(survey_.mutex);
      last = survey_.last;
    }
    if (!last || !last->reachable) {
      return;
    }
    w.family("evald_cluster_jobs", "gauge",
             "Cluster-wide jobs by status among the newest 1000 (surveyed once a second).");
    for (const auto& [status, n] : last->by_status) {
      w.sample("evald_cluster_jobs", exposition_writer::label("status", status), n);
    }
    w.family("evald_cluster_node_up", "gauge",
             "Nodes that announced themselves to the cluster in the last 10 s.");
    for (const auto& node : *last->nodes) {
      w.sample("evald_cluster_node_up", exposition_writer::label("node", node), std::uint64_t{1});
    }
  }

  std::string status_suffix() const override { return node_.status_suffix(); }

 private:
  script_table scripts_;  // the mirror; before node_, which keeps a reference
  survey_cache survey_;
  cluster_node node_;
  std::vector<std::unique_ptr<redis_job_store>> jobs_;
  std::vector<std::unique_ptr<redis_script_store>> scripts_by_worker_;
};

}  // namespace

std::unique_ptr<backend> make_redis_backend(const config::settings& settings,
                                            std::span<worker* const> workers, drain_hooks drain) {
  return std::make_unique<redis_backend>(settings, workers, std::move(drain));
}

}  // namespace evald
