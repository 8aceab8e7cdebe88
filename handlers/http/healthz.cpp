#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"

namespace evald::endpoints {

void healthz(request_context& ctx, response& res) {
  if (!ctx.query.empty()) {
    check_query_params(ctx.query, {});
  }
  res.body.assign(R"({"status":"ok"})");
}

}  // namespace evald::endpoints
