#include "handlers/kernels/factor.hpp"
#include "handlers/endpoints.hpp"
#include "handlers/evaluation.hpp"
#include "handlers/params.hpp"
#include "server/preconditions.hpp"

namespace evald::endpoints {

void mark_cacheable(const request_context& ctx, response& res, std::string_view key) {
  res.etag = strong_etag(key);
  res.cache_control = ctx.settings.http.cache_control;
}

void append_factor_json(std::string& out, std::uint64_t n,
                        const std::vector<std::uint64_t>& factors) {
  out.append(R"({"n":)");
  append_u64_json(out, n);
  out.append(R"(,"factors":[)");
  for (std::size_t i = 0; i < factors.size(); ++i) {
    if (i != 0) {
      out.push_back(',');
    }
    append_u64_json(out, factors[i]);
  }
  out.append(factors.size() == 1 ? R"(],"prime":true})" : R"(],"prime":false})");
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
