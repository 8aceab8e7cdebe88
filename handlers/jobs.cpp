#include <spdlog/spdlog.h>

#include <ctime>
#include <nlohmann/json.hpp>

#if defined(EVALD_HAS_CLUSTER)
#include "handlers/cluster_node.hpp"
#include "handlers/cluster_split.hpp"
#endif
#include "handlers/endpoints.hpp"
#include "handlers/eval_request.hpp"
#include "handlers/job_store.hpp"
#include "handlers/params.hpp"
#include "handlers/routes.hpp"
#include "server/http_error.hpp"
#include "server/platform.hpp"
#include "server/preconditions.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

using json = nlohmann::ordered_json;

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  const std::tm tm = platform::utc_time(secs);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

json job_json(const job_store::snapshot& s, bool with_result) {
  auto when = [](const std::optional<std::chrono::system_clock::time_point>& t) -> json {
    return t ? json(rfc3339(*t)) : json(nullptr);
  };
  json j = {{"id", s.id},
            {"status", job_store::name(s.status)},
            {"progress", s.progress},
            {"submitted", rfc3339(s.submitted)},
            {"started", when(s.started)},
            {"finished", when(s.finished)}};
  if (with_result) {
    j["result"] = s.result.empty() ? json(nullptr) : json::parse(s.result);
  }
  return j;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The launched evaluation, on the worker that accepted it; nobody waits on it.
net::awaitable<void> run_launched(job_store& store, worker& owner, const config::settings& settings,
                                  std::string id, eval_request er) {
  if (!store.start(id)) {
    co_return;  // cancelled while queued
  }
  try {
    evaluation ev(owner, settings, er.timeout_ms);
    ev.on_job = [&store, &id](std::shared_ptr<parallel_job> job) { store.set_job(id, job); };
    std::string body = co_await run_eval_request(ev, settings, er);
    store.finish(id, job_store::state::done, std::move(body));
  } catch (const http_error& e) {
    const auto final_state =
        e.code == "deadline_exceeded" ? job_store::state::expired : job_store::state::failed;
    json err = {{"error",
                 {{"status", static_cast<unsigned>(e.status)},
                  {"code", e.code},
                  {"message", e.message()}}}};
    store.finish(id, final_state, dump(err));
  }
}

#if defined(EVALD_HAS_CLUSTER)
http_error cluster_unavailable() {
  http_error e(http::status::service_unavailable, "cluster_unavailable",
               "the cluster store (Redis) is unreachable; retry later");
  e.retry_after = "1";
  return e;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point from_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

// The same object as an in-memory job's, plus the node that ran it.
json cluster_job_json(const cluster_job& j, bool with_result) {
  auto when = [](const std::optional<std::int64_t>& t) -> json {
    return t ? json(rfc3339(from_ms(*t))) : json(nullptr);
  };
  json out = {{"id", j.id},
              {"status", j.status},
              {"progress", j.progress},
              {"submitted", rfc3339(from_ms(j.submitted_ms))},
              {"started", when(j.started_ms)},
              {"finished", when(j.finished_ms)},
              {"node", j.owner.empty() ? json(nullptr) : json(j.owner)}};
  if (j.parts > 0) {
    // One big job split across nodes: parts done cluster-wide and who ran them.
    out["chunks"] = j.parts;
    out["chunks_done"] = j.parts_done;
    out["nodes"] = j.nodes;
  }
  if (with_result) {
    out["result"] = j.result.empty() ? json(nullptr) : json::parse(j.result, nullptr, false);
  }
  return out;
}
#endif

}  // namespace

namespace endpoints {

net::awaitable<void> eval_launch(request_context& ctx, response& res) {
  auto& stores = *static_cast<route_stores*>(ctx.route_data);
  auto& store = stores.jobs;
#if defined(EVALD_HAS_CLUSTER)
  if (stores.cluster != nullptr && ctx.req.body().find("\"script\"") != std::string::npos) {
    co_await sync_cluster_scripts(*stores.cluster, ctx.owner);
  }
#endif
  // Bad input is a 4xx now, not a failed job later.
  eval_request er = co_await parse_eval_request(ctx, &stores.scripts, true);
  if (er.detector) {
    // The Log Detector's launch question is answered at once, as /eval answers.
    evaluation ev(ctx, er.timeout_ms);
    res.body = co_await run_eval_request(ev, ctx.settings, er);
    ev.finish(res);
    co_return;
  }
#if defined(EVALD_HAS_CLUSTER)
  if (stores.cluster != nullptr) {
    // 202 only once Redis has acknowledged the job; any node may run it.
    const std::string id = random_job_id();
    const auto plan = plan_split(er, ctx.req.body(), ctx.settings);
    // A split job's deadline is the job's, over all its parts.
    const auto cap = static_cast<std::uint64_t>(ctx.settings.limits.max_eval_time.count());
    const auto deadline =
        unix_ms() + static_cast<std::int64_t>(std::min(er.timeout_ms.value_or(cap), cap));
    try {
      auto& queue = stores.cluster->queue(ctx.owner);
      // The node that runs it parses the body again: a ?timeout_ms= goes into it.
      std::string params = ctx.req.body();
      if (ctx.query.find("timeout_ms") != nullptr && er.timeout_ms) {
        auto j = json::parse(params);
        j["timeout_ms"] = *er.timeout_ms;
        params = dump(j);
      }
      if (plan) {
        co_await queue.submit_split(id, params, unix_ms(), plan->kind, plan->head, deadline,
                                    plan->parts);
      } else {
        co_await queue.submit(id, params, unix_ms());
      }
    } catch (const redis_unavailable&) {
      throw cluster_unavailable();
    }
    res.status = http::status::accepted;
    const std::string href = "/jobs/" + id;
    res.body = dump(json{{"id", id}, {"status", "queued"}, {"href", href}});
    res.add_header("Location", href);
    co_return;
  }
#endif
  const auto id = store.create();
  if (!id) {
    http_error e(http::status::service_unavailable, "too_many_jobs",
                 "the job store is full (jobs.max jobs, or jobs.max_results_size bytes of "
                 "results kept); retry later, or DELETE finished jobs");
    e.retry_after = "10";
    throw e;
  }
  net::co_spawn(ctx.owner.context(),
                run_launched(store, ctx.owner, ctx.settings, *id, std::move(er)),
                [](std::exception_ptr e) {
                  if (e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                      spdlog::error("launched job failed: {}", ex.what());
                    }
                  }
                });
  res.status = http::status::accepted;
  const std::string href = "/jobs/" + *id;
  res.body = dump(json{{"id", *id}, {"status", "queued"}, {"href", href}});
  res.add_header("Location", href);
  co_return;
}

void job(request_context& ctx, response& res) {
  auto& store = *static_cast<job_store*>(ctx.route_data);
  check_query_params(ctx.query, {});
  const std::string id(ctx.path.substr(std::string_view("/jobs/").size()));
  if (ctx.req.method() == http::verb::delete_ && has_preconditions(ctx.req)) {
    // Judged before the cancel; a job that exists is a current representation.
    if (!store.get(id)) {
      throw http_error(http::status::not_found, "not_found", "no job " + id);
    }
    if (evaluate_preconditions(ctx.req, {}, true) != precondition::proceed) {
      throw http_error(http::status::precondition_failed, "precondition_failed",
                       "a precondition (If-Match or If-None-Match) is false for job " + id);
    }
  }
  const auto snap = ctx.req.method() == http::verb::delete_ ? store.cancel(id) : store.get(id);
  if (!snap) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  res.body = dump(job_json(*snap, true));
}

net::awaitable<void> readyz(request_context& ctx, response& res) {
  check_query_params(ctx.query, {});
#if defined(EVALD_HAS_CLUSTER)
  auto& stores = *static_cast<route_stores*>(ctx.route_data);
  if (stores.cluster != nullptr) {
    try {
      co_await stores.cluster->queue(ctx.owner).ping();
    } catch (const std::exception&) {
      throw cluster_unavailable();
    }
    res.body = dump(
        json{{"status", "ready"}, {"cluster", "connected"}, {"node", stores.cluster->node_id()}});
    co_return;
  }
#endif
  res.body = R"({"status":"ready"})";
  co_return;
}

#if defined(EVALD_HAS_CLUSTER)
net::awaitable<void> cluster_job(request_context& ctx, response& res) {
  auto& node = *static_cast<route_stores*>(ctx.route_data)->cluster;
  auto& queue = node.queue(ctx.owner);
  check_query_params(ctx.query, {});
  const std::string id(ctx.path.substr(std::string_view("/jobs/").size()));
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  try {
    if (ctx.req.method() == http::verb::delete_) {
      if (has_preconditions(ctx.req)) {
        if (!co_await queue.get(id)) {
          throw http_error(http::status::not_found, "not_found", "no job " + id);
        }
        if (evaluate_preconditions(ctx.req, {}, true) != precondition::proceed) {
          throw http_error(http::status::precondition_failed, "precondition_failed",
                           "a precondition (If-Match or If-None-Match) is false for job " + id);
        }
      }
      if (co_await queue.cancel(id, unix_ms()) == cluster_queue::cancel_result::missing) {
        throw http_error(http::status::not_found, "not_found", "no job " + id);
      }
    }
    const auto j = co_await queue.get(id);
    if (!j) {
      throw http_error(http::status::not_found, "not_found", "no job " + id);
    }
    res.body = dump(cluster_job_json(*j, true));
  } catch (const redis_unavailable&) {
    throw cluster_unavailable();
  }
}

net::awaitable<void> cluster_jobs(request_context& ctx, response& res) {
  auto& node = *static_cast<route_stores*>(ctx.route_data)->cluster;
  check_query_params(ctx.query, {});
  json list = json::array();
  try {
    for (const auto& j : co_await node.queue(ctx.owner).newest(100)) {
      list.push_back(cluster_job_json(j, false));
    }
  } catch (const redis_unavailable&) {
    throw cluster_unavailable();
  }
  res.body = dump(json{{"jobs", list}});
}
#endif

void jobs(request_context& ctx, response& res) {
  auto& store = *static_cast<job_store*>(ctx.route_data);
  check_query_params(ctx.query, {});
  json list = json::array();
  for (const auto& s : store.newest(100)) {
    list.push_back(job_json(s, false));
  }
  res.body = dump(json{{"jobs", list}});
}

}  // namespace endpoints
}  // namespace evald
