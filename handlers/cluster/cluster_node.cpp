#include "handlers/cluster/cluster_node.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "handlers/cluster/cluster_split.hpp"
#include "handlers/exec/eval_run.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/exec/launched_job.hpp"
#include "handlers/json/error_json.hpp"
#include "handlers/request/eval_request.hpp"
#include "handlers/store/script_table.hpp"
#include "server/http_error.hpp"
#include "server/metrics.hpp"
#include "server/metrics_text.hpp"
#include "server/tenant.hpp"

namespace evald {
namespace {

// The result of a job the client cancelled.
std::string cancelled_json() {
  return error_json(http_error(http::status::conflict, "cancelled", "the job was cancelled"));
}

net::awaitable<void> pause(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(use_tuple);
}

}  // namespace

std::string default_node_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "evald");
  }
  return std::string(host) + "-" + std::to_string(::getpid());
}

// A worker's figures in cluster mode; written on its thread, read by a scrape.
struct agent_metrics {
  metric_cell connected;      // this worker's Redis link: 1 up, 0 down
  metric_cell problem;        // 0, or 1 + the redis_problem this worker last met
  metric_cell rtt_us;         // round trip of its last answered command
  metric_cell claimed;        // jobs taken from the queue
  metric_cell reclaimed;      // jobs taken over from a node that stopped renewing them
  metric_cell stale_refused;  // heartbeats or results refused: another node owned the job
};

struct cluster_node::agent {
  worker& w;
  std::shared_ptr<redis_connection> commands;
  std::shared_ptr<redis_connection> blocking;
  std::unique_ptr<cluster_queue> queue;
  std::uint32_t running = 0;
  bool stopping = false;
  std::vector<std::shared_ptr<run_state>> runs;  // the jobs running on this worker
  // The fetch loop waits on this while the worker is full; a finishing job cancels
  // it, so the next job is fetched at once (polling cost 50 ms a job).
  std::unique_ptr<net::steady_timer> slot_free;
  agent_metrics metrics;
};

// Shared by a running job and its heartbeat.
struct cluster_node::run_state {
  std::shared_ptr<parallel_job> job;
  bool finished = false;
  bool cancelled = false;
  bool stale = false;
  bool superseded = false;  // a part no longer needed: stop, write nothing
  bool released = false;    // the node drains: stop, hand the job back
};

cluster_node::cluster_node(const config::settings& settings, std::span<worker* const> workers,
                           script_table& scripts)
    : settings_(settings),
      scripts_(scripts),
      node_id_(settings.cluster.node_id.empty() ? default_node_id() : settings.cluster.node_id) {
  auto endpoint = redis_endpoint::parse(settings.cluster.redis);
  endpoint.user = settings.cluster.user;
  endpoint.password = settings.cluster.password;
  endpoint.command_timeout = settings.cluster.command_timeout;
  auto blocking_endpoint = endpoint;
  // The fetch waits up to a second inside Redis: its deadline must cover that.
  blocking_endpoint.command_timeout = settings.cluster.command_timeout + std::chrono::seconds(1);
  cluster_queue::settings qs{settings.cluster.prefix, node_id_,
                             static_cast<std::int64_t>(settings.cluster.max_deliveries),
                             settings.jobs.ttl};
  for (worker* w : workers) {
    // (Built in place: its metric cells cannot move.)
    auto a =
        std::unique_ptr<agent>(new agent{*w,
                                         redis_connection::create(w->context(), endpoint),
                                         redis_connection::create(w->context(), blocking_endpoint),
                                         nullptr,
                                         0,
                                         false,
                                         {},
                                         std::make_unique<net::steady_timer>(w->context()),
                                         {}});
    a->queue = std::make_unique<cluster_queue>(*a->commands, qs);
    agents_.push_back(std::move(a));
  }
}

cluster_node::~cluster_node() {
  close();
}

void cluster_node::start() {
  spdlog::info("cluster mode: node {} on Redis {}", node_id_, settings_.cluster.redis);
  for (auto& a : agents_) {
    net::co_spawn(a->w.context(), fetch_loop(*a), net::detached);
  }
  net::co_spawn(agents_.front()->w.context(), reclaim_loop(*agents_.front()), net::detached);
}

void cluster_node::stop_fetching() {
  for (auto& a : agents_) {
    // Posted: each agent belongs to its worker's thread.
    net::post(a->w.context(), [ag = a.get()] {
      ag->stopping = true;
      ag->slot_free->cancel();
      for (auto& st : ag->runs) {
        st->released = true;
        if (st->job) {
          st->job->request_stop();
        }
      }
    });
  }
}

void cluster_node::close() {
  for (auto& a : agents_) {
    a->stopping = true;
    a->commands->close();
    a->blocking->close();
  }
}

cluster_queue& cluster_node::queue(const worker& w) {
  return *agents_.at(w.index())->queue;
}

net::awaitable<void> cluster_node::sync_scripts(const worker& w) {
  auto& q = *agents_.at(w.index())->queue;
  const auto remote = co_await q.scripts_version();
  const auto [generation, counter] = scripts_.version();
  if (remote.generation == generation && remote.counter == counter) {
    co_return;
  }
  auto [version, sources] = co_await q.all_scripts();
  scripts_.replace_all(version.generation, version.counter, sources);
}

net::awaitable<std::shared_ptr<const script_catalog>> cluster_node::current_scripts(
    const worker& w) {
  try {
    co_await sync_scripts(w);  // a named script runs as Redis has it now
  } catch (const redis_unavailable&) {
    // Redis went away since the fetch: the mirror as it is.
  }
  co_return scripts_.snapshot();
}

void cluster_node::write_metrics(exposition_writer& w) const {
  const auto total = [this](metric_cell agent_metrics::*cell) {
    std::uint64_t n = 0;
    for (const auto& a : agents_) {
      n += (a->metrics.*cell).get();
    }
    return n;
  };
  w.family("evald_cluster_connected", "gauge",
           "Workers whose Redis connection is up (cluster mode; below the worker count = "
           "degraded).");
  w.sample("evald_cluster_connected", "", total(&agent_metrics::connected));
  w.family("evald_cluster_store_problem", "gauge",
           "Workers whose last Redis command failed, by cause (unreachable, auth, "
           "out_of_memory, lost_data).");
  for (const auto p : {redis_problem::unreachable, redis_problem::auth,
                       redis_problem::out_of_memory, redis_problem::lost_data}) {
    std::uint64_t n = 0;
    for (const auto& a : agents_) {
      n += a->metrics.problem.get() == 1 + static_cast<unsigned>(p) ? 1 : 0;
    }
    w.sample("evald_cluster_store_problem", exposition_writer::label("reason", name(p)), n);
  }
  w.family("evald_cluster_redis_rtt_seconds", "gauge",
           "Round trip of the last answered Redis command, the largest over workers.");
  std::uint64_t rtt = 0;
  for (const auto& a : agents_) {
    rtt = std::max(rtt, a->metrics.rtt_us.get());
  }
  w.sample("evald_cluster_redis_rtt_seconds", "", static_cast<double>(rtt) / 1e6);
  w.family("evald_cluster_jobs_claimed_total", "counter", "Cluster jobs this node took.");
  w.sample("evald_cluster_jobs_claimed_total", "", total(&agent_metrics::claimed));
  w.family("evald_cluster_jobs_reclaimed_total", "counter",
           "Cluster jobs this node took over from a node that stopped renewing them.");
  w.sample("evald_cluster_jobs_reclaimed_total", "", total(&agent_metrics::reclaimed));
  w.family("evald_cluster_stale_writes_total", "counter",
           "Heartbeats and results of this node refused because another node owned the job.");
  w.sample("evald_cluster_stale_writes_total", "", total(&agent_metrics::stale_refused));
}

std::string cluster_node::status_suffix() const {
  std::uint64_t up = 0;
  std::uint64_t failing = 0;
  std::string cause;
  for (const auto& a : agents_) {
    up += a->metrics.connected.get();
    if (const auto p = a->metrics.problem.get(); p != 0) {
      ++failing;
      cause = name(static_cast<redis_problem>(p - 1));
    }
  }
  // A worker without its Redis link cannot launch or read jobs.
  if (up == agents_.size() && failing == 0) {
    return ", cluster connected";
  }
  if (failing == 0) {
    return ", cluster degraded (Redis unreachable from " + std::to_string(agents_.size() - up) +
           " workers)";
  }
  return ", cluster degraded (Redis: " + cause + ", on " + std::to_string(failing) + " workers)";
}

void cluster_node::observe_generation(const std::string& generation) {
  if (generation.empty()) {
    return;  // lost, and not recreated yet: the fetch loops recreate it
  }
  const std::lock_guard lock(generation_mutex_);
  if (!generation_.empty() && generation != generation_) {
    data_lost_at_.store(now_ms());
    spdlog::warn(
        "cluster: Redis lost its data (restarted empty or flushed); jobs launched "
        "before are gone, the queue and the script mirror are recreated");
  }
  generation_ = generation;
}

bool cluster_node::connected(const worker& w) const {
  return agents_.at(w.index())->commands->connected();
}

net::awaitable<void> cluster_node::fetch_loop(agent& a) {
  bool prepared = false;
  std::chrono::milliseconds backoff{0};
  while (!a.stopping) {
    auto& m = a.metrics;
    m.connected.set(a.commands->connected() ? 1 : 0);
    m.rtt_us.set(static_cast<std::uint64_t>(a.commands->last_round_trip().count()));
    if (a.running >= settings_.cluster.jobs_per_worker) {
      a.slot_free->expires_after(std::chrono::seconds(1));
      co_await a.slot_free->async_wait(use_tuple);
      continue;
    }
    try {
      if (!prepared) {
        // Again after any failure: a Redis restarted empty (or flushed) has no group,
        // and every node recreates it at once instead of failing forever.
        const std::string generation = co_await a.queue->prepare();
        observe_generation(generation);
        prepared = true;
      }
      auto d = co_await cluster_queue::fetch(*a.blocking, a.queue->config(),
                                             std::chrono::milliseconds(1000));
      m.problem.set(0);
      if (d && a.stopping) {
        // Fetched as the drain began: hand it back unstarted.
        const auto idle = settings_.cluster.lease + std::chrono::seconds(1);
        co_await a.queue->release(*d, -1, idle);
        continue;
      }
      if (!d) {
        continue;
      }
      const auto s = co_await a.queue->start(*d, now_ms(), std::to_string(a.w.index()));
      if (s.what == cluster_queue::start_result::kind::run) {
        m.claimed.add();
        ++a.running;
        net::co_spawn(a.w.context(), run_job(a, std::move(*d), s), net::detached);
      }
    } catch (const redis_unavailable& e) {
      if (m.problem.get() != 1 + static_cast<unsigned>(e.problem)) {
        spdlog::warn("cluster fetch on worker {}: {}", a.w.index(), e.what());
      }
      m.problem.set(1 + static_cast<unsigned>(e.problem));
      prepared = false;
      backoff = std::chrono::milliseconds(250);
    } catch (const std::exception& e) {
      spdlog::error("cluster fetch on worker {}: {}", a.w.index(), e.what());
      prepared = false;
      backoff = std::chrono::milliseconds(1000);
    }
    if (backoff.count() > 0) {
      co_await pause(backoff);  // (no co_await inside a catch block)
      backoff = std::chrono::milliseconds(0);
    }
  }
}

net::awaitable<void> cluster_node::reclaim_loop(agent& a) {
  // At least once a second: a job a draining node handed back waits no longer.
  const auto period = std::clamp(settings_.cluster.lease / 3, std::chrono::milliseconds(100),
                                 std::chrono::milliseconds(1000));
  // After an outage, no claim for one lease: the owners could not renew while Redis
  // was away (their leases look expired), and they renew at their next heartbeat. A
  // running job survives an outage of any length on its live node.
  auto quiet_until = std::chrono::steady_clock::time_point::min();
  bool was_down = false;
  while (!a.stopping) {
    co_await pause(period);
    try {
      co_await a.queue->announce(now_ms());  // for the dashboard's list of live nodes
      // A node whose fetches still succeed (another node recreated the group first)
      // learns here that Redis lost its data.
      const std::string generation = co_await a.queue->generation();
      observe_generation(generation);
    } catch (const std::exception&) {
      was_down = true;
      continue;
    }
    if (was_down) {
      // The owners' links may come back up to one reconnect backoff (2 s) after ours.
      quiet_until = std::chrono::steady_clock::now() + settings_.cluster.lease +
                    std::chrono::seconds(2) + settings_.cluster.heartbeat;
      was_down = false;
    }
    if (a.stopping || a.running >= settings_.cluster.jobs_per_worker ||
        std::chrono::steady_clock::now() < quiet_until) {
      continue;
    }
    try {
      // One at a time: this worker runs what it claims.
      for (auto& d : co_await a.queue->reclaim(settings_.cluster.lease, 1)) {
        const auto s = co_await a.queue->start(d, now_ms(), std::to_string(a.w.index()));
        if (s.what == cluster_queue::start_result::kind::dead) {
          spdlog::warn("cluster job {} failed after {} deliveries", d.id, s.deliveries);
        }
        if (s.what != cluster_queue::start_result::kind::run) {
          continue;
        }
        a.metrics.reclaimed.add();
        spdlog::info("cluster job {} reclaimed (delivery {}, epoch {})", d.id, s.deliveries,
                     s.epoch);
        ++a.running;
        net::co_spawn(a.w.context(), run_job(a, d, s), net::detached);
      }
    } catch (const redis_unavailable&) {
    } catch (const std::exception& e) {
      spdlog::error("cluster reclaim: {}", e.what());
    }
  }
}

net::awaitable<void> cluster_node::heartbeat(agent& a, cluster_queue::delivery d,
                                             std::int64_t epoch, std::shared_ptr<run_state> st) {
  while (!st->finished) {
    co_await pause(settings_.cluster.heartbeat);
    if (st->finished) {
      break;
    }
    try {
      const double progress = st->job ? st->job->progress() : 0.0;
      const auto r = co_await a.queue->beat(d, epoch, progress);
      if (r == cluster_queue::beat_result::stale) {
        // Another node owns the job now: stop computing, write nothing.
        st->stale = true;
        a.metrics.stale_refused.add();
        spdlog::warn("cluster job {}: the lease moved to another node; stopping", d.id);
        if (st->job) {
          st->job->request_stop();
        }
        break;
      }
      if (r == cluster_queue::beat_result::superseded) {
        // A lower part found the factor: this part's answer is not needed.
        st->superseded = true;
        if (st->job) {
          st->job->request_stop();
        }
        break;
      }
      if (r == cluster_queue::beat_result::cancel && !st->cancelled) {
        st->cancelled = true;
        if (st->job) {
          st->job->request_stop();
        }
      }
    } catch (const redis_unavailable&) {
      // Keep computing; the result is reported when Redis is back.
    }
  }
}

net::awaitable<void> cluster_node::run_job(agent& a, cluster_queue::delivery d,
                                           cluster_queue::start_result s) {
  auto st = std::make_shared<run_state>();
  // The drain may have begun between the fetch and now: such a job goes straight back.
  st->released = a.stopping;
  a.runs.push_back(st);
  if (hold_drain_) {
    hold_drain_();  // a drain waits until this job is written or handed back
  }
  net::co_spawn(a.w.context(), heartbeat(a, d, s.epoch, st), net::detached);
  const bool part = d.part >= 0;
  std::string status = "done";
  std::string result;
  bool hit = false;
  try {
    if (part) {
      // A part of a split job, under the job's deadline.
      std::optional<std::uint64_t> timeout;
      if (s.deadline_ms > 0) {
        timeout = static_cast<std::uint64_t>(std::max<std::int64_t>(1, s.deadline_ms - now_ms()));
      }
      std::shared_ptr<tenant_account> account;
      if (a.w.tenants() != nullptr && !s.tenant.empty()) {
        account = a.w.tenants()->named(s.tenant);
      }
      evaluation ev(a.w, settings_, timeout, std::move(account));
      ev.on_job = [st](std::shared_ptr<parallel_job> job) {
        st->job = std::move(job);
        if (st->cancelled || st->stale || st->superseded || st->released) {
          st->job->request_stop();
        }
      };
      const auto scripts = co_await current_scripts(a.w);
      auto out = co_await run_split_part(ev, settings_, s.split, s.params, *scripts, s.tenant);
      result = std::move(out.result);
      hit = out.hit;
      if (st->cancelled) {
        status = "cancelled";
        result = cancelled_json();
      } else if (st->superseded) {
        status = "superseded";  // stopped early: its partial answer must not count
      }
    } else {
      // A big batch is read in compute slices, as on /eval.
      eval_request er = co_await read_eval_body(a.w, s.params, settings_, false);
      if (!er.script_names.empty()) {
        const auto scripts = co_await current_scripts(a.w);
        bind_named_scripts(er, *scripts, s.tenant);
      }
      std::function<void(std::shared_ptr<parallel_job>)> on_job =
          [st](std::shared_ptr<parallel_job> job) {
            st->job = std::move(job);
            if (st->cancelled || st->stale || st->released) {
              st->job->request_stop();
            }
          };
      job_outcome out =
          co_await run_launched_request(a.w, settings_, er, std::move(on_job), s.tenant);
      status = std::move(out.status);
      result = std::move(out.result);
      if (st->cancelled && status != "done") {
        status = "cancelled";
        result = cancelled_json();
      }
    }
  } catch (const http_error& e) {
    status = st->cancelled ? "cancelled" : (e.code == "deadline_exceeded" ? "expired" : "failed");
    result = st->cancelled ? cancelled_json() : error_json(e);
    if (part && st->superseded) {
      status = "superseded";
    }
  } catch (const std::exception& e) {
    status = "failed";
    result =
        error_json(http_error(http::status::internal_server_error, "internal_error", e.what()));
  }
  st->finished = true;
  if (st->released && !st->stale) {
    // The node drains: the job (whatever it computed so far) goes back to the queue.
    for (int attempt = 0; attempt < 3; ++attempt) {
      bool retry = false;
      const auto idle = settings_.cluster.lease + std::chrono::seconds(1);
      try {
        if (co_await a.queue->release(d, s.epoch, idle)) {
          spdlog::info("cluster job {}: handed back to the queue by the drain", d.id);
        }
      } catch (const redis_unavailable&) {
        retry = true;  // reclaimed after the lease otherwise
      } catch (const std::exception& e) {
        spdlog::error("cluster job {}: hand-back failed: {}", d.id, e.what());
      }
      if (!retry) {
        break;
      }
      co_await pause(std::chrono::milliseconds(250));
    }
  } else if (!st->stale) {
    // The final write (a part's result), fenced; retried while Redis is unreachable.
    for (int attempt = 0; !a.stopping || attempt < 3; ++attempt) {
      try {
        bool refused = false;
        if (part) {
          refused = co_await a.queue->finish_part(d, status, result, hit, now_ms()) ==
                        cluster_queue::part_result::late &&
                    status != "superseded";
        } else {
          refused = co_await a.queue->finish(d, s.epoch, status, result, now_ms()) ==
                    cluster_queue::finish_result::stale;
        }
        if (refused) {
          a.metrics.stale_refused.add();
          spdlog::warn("cluster job {}: result refused, another node owns the job", d.id);
        }
        break;
      } catch (const redis_unavailable&) {
      } catch (const std::exception& e) {
        spdlog::error("cluster job {}: final write failed: {}", d.id, e.what());
        break;
      }
      co_await pause(std::chrono::milliseconds(std::min(250 * (attempt + 1), 2000)));
    }
  }
  --a.running;
  a.runs.erase(std::find(a.runs.begin(), a.runs.end(), st));
  a.slot_free->cancel();
  if (release_drain_) {
    release_drain_();
  }
}

}  // namespace evald
