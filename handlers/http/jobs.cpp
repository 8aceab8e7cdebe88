// Launched jobs: POST /eval-launch, GET and DELETE /jobs/<id>, GET /jobs, and
// GET /readyz, written once for every backend.
#include <ctime>
#include <nlohmann/json.hpp>

#include "handlers/exec/eval_run.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/eval_input.hpp"
#include "handlers/http/params.hpp"
#include "handlers/request/idempotency_key.hpp"
#include "handlers/store/backend.hpp"
#include "server/http_error.hpp"
#include "server/platform.hpp"
#include "server/preconditions.hpp"
#include "server/tenant.hpp"

namespace evald::endpoints {
namespace {

using json = nlohmann::ordered_json;

std::string rfc3339(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  const std::tm tm = platform::utc_time(secs);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

json job_json(const job_view& v, bool with_result) {
  auto when = [](const std::optional<std::int64_t>& t) -> json {
    return t ? json(rfc3339(*t)) : json(nullptr);
  };
  json j = {{"id", v.id},
            {"status", v.status},
            {"progress", v.progress},
            {"submitted", rfc3339(v.submitted_ms)},
            {"started", when(v.started_ms)},
            {"finished", when(v.finished_ms)}};
  if (v.node) {
    j["node"] = v.node->empty() ? json(nullptr) : json(*v.node);
  }
  if (v.parts > 0) {
    // One big job split across nodes: parts done cluster-wide and who ran them.
    j["chunks"] = v.parts;
    j["chunks_done"] = v.parts_done;
    j["nodes"] = v.nodes;
  }
  if (with_result) {
    j["result"] = v.result.empty() ? json(nullptr) : json::parse(v.result, nullptr, false);
  }
  return j;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The id from /jobs/<id>; anything that cannot be an id is a job that does not exist.
std::string job_id(const request_context& ctx) {
  std::string id(ctx.path.substr(std::string_view("/jobs/").size()));
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  return id;
}

// The request's Idempotency-Key ("" for none); sent twice is a mistake, not a choice.
std::string idempotency_key(const request& req) {
  const auto [first, last] = req.equal_range("Idempotency-Key");
  if (first == last) {
    return {};
  }
  if (std::next(first) != last) {
    throw http_error(http::status::bad_request, "bad_idempotency_key",
                     "Idempotency-Key was sent more than once; send one key per request");
  }
  return parse_idempotency_key(first->value());
}

// Jobs belong to the tenant that launched them. Another tenant's job does not exist
// for the caller (404, not 403: no oracle); admin sees every tenant's.
std::string visible_tenant(const request_context& ctx) {
  return ctx.who == nullptr || ctx.who->admin() ? std::string() : ctx.who->tenant;
}
bool visible(const request_context& ctx, const job_view& v) {
  const std::string tenant = visible_tenant(ctx);
  return tenant.empty() || v.tenant == tenant;
}

}  // namespace

net::awaitable<void> eval_launch(request_context& ctx, response& res, backend& stores) {
  // Bad input is a 4xx now, not a failed job later.
  eval_request er = co_await parse_eval_request(ctx, true);
  co_await resolve_named_scripts(er, stores.scripts(ctx.owner), ctx.tenant());
  if (er.detector) {
    // The Log Detector's launch question is answered at once, as /eval answers.
    evaluation ev(ctx, er.timeout_ms);
    res.body = co_await run_eval_request(ev, ctx.settings, er);
    ev.finish(res);
    co_return;
  }
  job_launch launch{std::move(er), ctx.req.body(), ctx.query.find("timeout_ms") != nullptr,
                    idempotency_key(ctx.req), ctx.tenant()};
  if (ctx.who != nullptr && ctx.who->account) {
    launch.max_active = ctx.who->account->limits().max_jobs;
  }
  const job_submitted job = co_await stores.jobs(ctx.owner).submit(std::move(launch));
  res.status = http::status::accepted;
  const std::string href = "/jobs/" + job.id;
  res.body = dump(json{{"id", job.id}, {"status", job.status}, {"href", href}});
  res.add_header("Location", href);
  if (job.replayed) {
    res.add_header("Idempotent-Replayed", "true");
  }
}

net::awaitable<void> job(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const std::string id = job_id(ctx);
  const auto view = co_await stores.jobs(ctx.owner).get(id);
  if (!view || !visible(ctx, *view)) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  res.body = dump(job_json(*view, true));
}

net::awaitable<void> job_delete(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const std::string id = job_id(ctx);
  auto& store = stores.jobs(ctx.owner);
  // Another tenant's job is not there for this caller: judged before anything acts.
  // (The owner never changes, so the check cannot go stale before the cancel.)
  const auto existing = co_await store.get(id);
  if (!existing || !visible(ctx, *existing)) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  if (has_preconditions(ctx.req)) {
    // Judged before the cancel; a job that exists is a current representation.
    if (evaluate_preconditions(ctx.req, {}, true) != precondition::proceed) {
      throw http_error(http::status::precondition_failed, "precondition_failed",
                       "a precondition (If-Match or If-None-Match) is false for job " + id);
    }
  }
  const auto view = co_await store.cancel(id);
  if (!view) {
    throw http_error(http::status::not_found, "not_found", "no job " + id);
  }
  res.body = dump(job_json(*view, true));
}

net::awaitable<void> jobs(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  json list = json::array();
  const auto newest = co_await stores.jobs(ctx.owner).newest(100, visible_tenant(ctx));
  for (const auto& v : newest) {
    list.push_back(job_json(v, false));
  }
  res.body = dump(json{{"jobs", list}});
}

net::awaitable<void> readyz(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  res.body = co_await stores.ready(ctx.owner);
}

}  // namespace evald::endpoints
