#include "handlers/endpoints.hpp"
#include "handlers/evaluation.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/parallel_trial.hpp"
#include "handlers/params.hpp"
#include "server/http_error.hpp"

namespace evald::endpoints {

std::string prime_json(std::uint64_t n, bool is_prime) {
  return R"({"n":)" + u64_json(n) + R"(,"prime":)" + (is_prime ? "true" : "false") +
         R"(,"method":"miller-rabin"})";
}

std::string trial_json(std::uint64_t n, const trial_outcome& t) {
  return R"({"n":)" + u64_json(n) + R"(,"prime":)" + (t.prime ? "true" : "false") +
         R"(,"method":"trial","factor":)" + (t.factor != 0 ? u64_json(t.factor) : "null") +
         R"(,"divisors_checked":)" + u64_json(t.divisors_checked) + R"(,"workers":)" +
         std::to_string(t.workers) + R"(,"chunks":)" + std::to_string(t.chunks) + "}";
}

net::awaitable<void> prime(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"n", "method", "timeout_ms"});
  const std::uint64_t n = require_u64(ctx.query, "n");
  std::string_view method = "auto";
  if (const std::string* m = ctx.query.find("method")) {
    method = *m;
  }
  if (method == "auto" || method == "miller-rabin") {
    res.body = prime_json(n, kernels::is_prime_u64(n));
    co_return;
  }
  if (method != "trial") {
    throw bad_request("method must be auto, miller-rabin or trial, not \"" + std::string(method) +
                      "\"");
  }
  evaluation ev(ctx, timeout_param(ctx.query));
  const trial_outcome t = co_await parallel_trial_division(ev, ctx.settings, n);
  res.body = trial_json(n, t);
  ev.finish(res);
}

}  // namespace evald::endpoints
