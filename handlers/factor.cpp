#include "handlers/kernels/factor.hpp"
#include "handlers/endpoints.hpp"
#include "handlers/params.hpp"

namespace evald::endpoints {

std::string factor_json(std::uint64_t n, const std::vector<std::uint64_t>& factors) {
  std::string out = R"({"n":)" + u64_json(n) + R"(,"factors":[)";
  for (std::size_t i = 0; i < factors.size(); ++i) {
    out += (i ? "," : "") + u64_json(factors[i]);
  }
  out += R"(],"prime":)";
  out += factors.size() == 1 ? "true" : "false";
  out += "}";
  return out;
}

// Pollard–Brent takes well under a slice for any 64-bit n (worst case a few ms for
// two 32-bit primes), so it runs inline.
void factor(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"n"});
  const std::uint64_t n = require_u64(ctx.query, "n");
  res.body = factor_json(n, kernels::factor_u64(n));
}

}  // namespace evald::endpoints
