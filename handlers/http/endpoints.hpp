#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "server/handler.hpp"

namespace evald {
struct trial_outcome;
class backend;
class stats_hub;
struct metrics_source;
}  // namespace evald

// One glue function per endpoint: parse and validate input, call the kernel, build
// the response. Each runs on the connection's worker.
namespace evald::endpoints {

void healthz(request_context& ctx, response& res);
net::awaitable<void> readyz(request_context& ctx, response& res, backend& stores);
net::awaitable<void> prime(request_context& ctx, response& res);
void chargen(request_context& ctx, response& res);
void factor(request_context& ctx, response& res);
void openapi(request_context& ctx, response& res);  // GET /openapi.json
void metrics(request_context& ctx, response& res, metrics_source& source);

// POST /eval and /eval-launch; launched jobs (GET, DELETE /jobs/<id>, GET /jobs).
net::awaitable<void> eval(request_context& ctx, response& res, backend& stores);
net::awaitable<void> eval_launch(request_context& ctx, response& res, backend& stores);
net::awaitable<void> job(request_context& ctx, response& res, backend& stores);
net::awaitable<void> job_delete(request_context& ctx, response& res, backend& stores);
net::awaitable<void> jobs(request_context& ctx, response& res, backend& stores);

// Named scripts: PUT, GET, DELETE /scripts/<name>, GET /scripts.
net::awaitable<void> script_put(request_context& ctx, response& res, backend& stores);
net::awaitable<void> script_get(request_context& ctx, response& res, backend& stores);
net::awaitable<void> script_delete(request_context& ctx, response& res, backend& stores);
net::awaitable<void> scripts_list(request_context& ctx, response& res, backend& stores);

// The dashboard.
void dashboard_page(request_context& ctx, response& res, stats_hub& hub);
void stats(request_context& ctx, response& res, stats_hub& hub);
void stats_stream(request_context& ctx, response& res, stats_hub& hub);

// Test hooks (EVALD_TEST_HOOKS=1 only): hold every worker but 0, and let them go.
net::awaitable<void> test_hold(request_context& ctx, response& res);
void test_release(request_context& ctx, response& res);

// Marks an answer that is a pure function of `key` (e.g. "prime 7"): a strong ETag
// and the configured Cache-Control; the session answers If-None-Match with 304.
void mark_cacheable(const request_context& ctx, response& res, std::string_view key);

}  // namespace evald::endpoints
