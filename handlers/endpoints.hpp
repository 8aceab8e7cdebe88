#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "server/handler.hpp"

namespace evald {
struct trial_outcome;
}

// One glue function per endpoint: parse and validate input, call the kernel, build
// the response. Each runs on the connection's worker.
namespace evald::endpoints {

void healthz(request_context& ctx, response& res);
net::awaitable<void> prime(request_context& ctx, response& res);
void chargen(request_context& ctx, response& res);
void factor(request_context& ctx, response& res);
net::awaitable<void> eval(request_context& ctx, response& res);         // data: route_stores
net::awaitable<void> eval_launch(request_context& ctx, response& res);  // data: route_stores
void job(request_context& ctx, response& res);                          // data: job_store
void jobs(request_context& ctx, response& res);                         // data: job_store
void metrics(request_context& ctx, response& res);
// The dashboard (data: route_stores, with stats set).
void dashboard_page(request_context& ctx, response& res);
void stats(request_context& ctx, response& res);
void openapi(request_context& ctx, response& res);                 // GET /openapi.json
void stats_stream(request_context& ctx, response& res);            // data: metrics_source
net::awaitable<void> readyz(request_context& ctx, response& res);  // data: route_stores
#if defined(EVALD_HAS_CLUSTER)
net::awaitable<void> cluster_job(request_context& ctx, response& res);   // GET, DELETE
net::awaitable<void> cluster_jobs(request_context& ctx, response& res);  // data: route_stores
net::awaitable<void> cluster_script_put(request_context& ctx, response& res);
net::awaitable<void> cluster_script_get(request_context& ctx, response& res);  // GET, DELETE
net::awaitable<void> cluster_scripts_list(request_context& ctx, response& res);
#endif
// Test hooks (EVALD_TEST_HOOKS=1 only): hold every worker but 0, and let them go.
net::awaitable<void> test_hold(request_context& ctx, response& res);
void test_release(request_context& ctx, response& res);
void script_put(request_context& ctx, response& res);    // data: script_store
void script_get(request_context& ctx, response& res);    // GET and DELETE; data: script_store
void scripts_list(request_context& ctx, response& res);  // data: script_store

// Marks an answer that is a pure function of `key` (e.g. "prime 7"): a strong ETag
// and the configured Cache-Control; the session answers If-None-Match with 304.
void mark_cacheable(const request_context& ctx, response& res, std::string_view key);

// Result objects shared by the GET endpoints and /eval.
// Each appends to `out` (a response body keeps its capacity between requests).
void append_prime_json(std::string& out, std::uint64_t n, bool is_prime);
void append_factor_json(std::string& out, std::uint64_t n,
                        const std::vector<std::uint64_t>& factors);
void append_trial_json(std::string& out, std::uint64_t n, const trial_outcome& t);

}  // namespace evald::endpoints
