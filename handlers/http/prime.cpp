#include "handlers/exec/evaluation.hpp"
#include "handlers/exec/item_results.hpp"
#include "handlers/exec/parallel_trial.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/kernels/primality.hpp"
#include "server/http_error.hpp"

namespace evald::endpoints {

net::awaitable<void> prime(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"n", "method", "timeout_ms"});
  const std::uint64_t n = require_u64(ctx.query, "n");
  std::string_view method = "auto";
  if (const std::string* m = ctx.query.find("method")) {
    method = *m;
  }
  if (method == "auto" || method == "miller-rabin") {
    // Trial answers also report how the work was split, so only these are cacheable.
    mark_cacheable(ctx, res, "prime " + std::to_string(n));
    const auto start = std::chrono::steady_clock::now();
    append_prime_json(res.body, n, kernels::is_prime_u64(n));
    add_inline_server_timing(res, start);
    co_return;
  }
  if (method != "trial") {
    throw bad_request("method must be auto, miller-rabin or trial, not \"" + std::string(method) +
                      "\"");
  }
  evaluation ev(ctx, timeout_param(ctx.query));
  const trial_outcome t = co_await parallel_trial_division(ev, ctx.settings, n);
  append_trial_json(res.body, n, t);
  ev.finish(res);
}

}  // namespace evald::endpoints
