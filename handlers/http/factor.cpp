#include "handlers/kernels/factor.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/exec/item_results.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "server/preconditions.hpp"

namespace evald::endpoints {

void mark_cacheable(const request_context& ctx, response& res, std::string_view key) {
  res.etag = strong_etag(key);
  res.cache_control = ctx.settings.http.cache_control;
}

// Pollard–Brent takes well under a slice for any 64-bit n (worst case a few ms for
// two 32-bit primes), so it runs inline.
void factor(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"n"});
  const std::uint64_t n = require_u64(ctx.query, "n");
  mark_cacheable(ctx, res, "factor " + std::to_string(n));
  const auto start = std::chrono::steady_clock::now();
  append_factor_json(res.body, n, kernels::factor_u64(n));
  add_inline_server_timing(res, start);
}

}  // namespace evald::endpoints
