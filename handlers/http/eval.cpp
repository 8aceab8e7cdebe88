// POST /eval: read the request (a big body in compute slices), resolve its named
// scripts, run it on every worker, answer.
#include "handlers/exec/eval_run.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/eval_input.hpp"
#include "handlers/http/params.hpp"
#include "handlers/store/backend.hpp"
#include "server/ascii.hpp"
#include "server/http_error.hpp"

namespace evald {
namespace {

bool is_json_content_type(std::string_view ct) {
  const auto semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') {
    type.remove_suffix(1);
  }
  return equals_ignoring_case(type, "application/json");
}

}  // namespace

net::awaitable<eval_request> parse_eval_request(request_context& ctx, bool launch_route) {
  const auto ct = ctx.req[http::field::content_type];
  if (!is_json_content_type(std::string_view(ct.data(), ct.size()))) {
    throw http_error(http::status::unsupported_media_type, "unsupported_media_type",
                     "Content-Type must be application/json");
  }
  // ?timeout_ms= works as on the GET endpoints (the smaller one wins when the body
  // has one too); any other query parameter is a 400, not silently ignored.
  check_query_params(ctx.query, {"timeout_ms"});
  const auto query_timeout = timeout_param(ctx.query);
  eval_request er = co_await read_eval_body(ctx.owner, ctx.req.body(), ctx.settings, launch_route);
  if (query_timeout) {
    er.timeout_ms = std::min(er.timeout_ms.value_or(*query_timeout), *query_timeout);
  }
  co_return er;
}

namespace endpoints {

net::awaitable<void> eval(request_context& ctx, response& res, backend& stores) {
  eval_request er = co_await parse_eval_request(ctx);
  co_await resolve_named_scripts(er, stores.scripts(ctx.owner), ctx.tenant());
  evaluation ev(ctx, er.timeout_ms);
  res.body = co_await run_eval_request(ev, ctx.settings, er);
  ev.finish(res);
}

}  // namespace endpoints
}  // namespace evald
