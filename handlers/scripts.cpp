// Named scripts: PUT /scripts/<name> (body = Lua source, compiled at once),
// GET /scripts/<name> (the source), DELETE /scripts/<name>, GET /scripts.
#include <nlohmann/json.hpp>

#include "handlers/endpoints.hpp"
#include "handlers/params.hpp"
#include "handlers/script_request.hpp"
#include "handlers/script_store.hpp"
#include "server/http_error.hpp"
#include "server/preconditions.hpp"

namespace evald::endpoints {
namespace {

using json = nlohmann::ordered_json;

std::string name_of(const request_context& ctx) {
  const std::string name(ctx.path.substr(std::string_view("/scripts/").size()));
  if (!valid_script_name(name)) {
    throw bad_request("a script name is 1 to 64 characters from A-Z a-z 0-9 _ . -");
  }
  return name;
}

// If-Match / If-None-Match against the stored script (PUT with If-None-Match: *
// creates only; If-Match: <etag> replaces only that version).
void check_script_preconditions(const request_context& ctx,
                                const std::optional<script_store::entry>& current) {
  if (!has_preconditions(ctx.req)) {
    return;
  }
  if (evaluate_preconditions(ctx.req, current ? std::string_view(current->etag) : "",
                             current.has_value()) != precondition::proceed) {
    throw http_error(http::status::precondition_failed, "precondition_failed",
                     current ? "the script \"" + current->name + "\" does not match the condition"
                             : "no script matches the condition");
  }
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return std::to_string(secs);
}

}  // namespace

void script_put(request_context& ctx, response& res) {
  auto& store = *static_cast<script_store*>(ctx.route_data);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  std::string source = ctx.req.body();
  if (source.size() > ctx.settings.scripts.max_source) {
    throw http_error(http::status::payload_too_large, "source_too_large",
                     "source is " + std::to_string(source.size()) +
                         " bytes; scripts.max_source is " +
                         std::to_string(ctx.settings.scripts.max_source));
  }
  check_script_preconditions(ctx, store.get(name));
  {
    // Compiled now, so a syntax error is the PUT's 400, not every later run's.
    const sandbox::script_vm vm(source, configured_script_limits(ctx.settings));
    if (!vm.compiled()) {
      throw script_http_error(*vm.failure());
    }
  }
  const auto bytes = source.size();
  const auto outcome = store.put(name, std::move(source));
  if (outcome == script_store::put_result::full) {
    throw http_error(http::status::insufficient_storage, "too_many_scripts",
                     "scripts.max_named (" + std::to_string(ctx.settings.scripts.max_named) +
                         ") scripts are stored; delete one first");
  }
  const auto stored = store.get(name);
  res.status =
      outcome == script_store::put_result::created ? http::status::created : http::status::ok;
  res.etag = stored ? stored->etag : "";
  res.add_header("Location", "/scripts/" + name);
  res.body = json{{"name", name}, {"bytes", bytes}, {"href", "/scripts/" + name}}.dump();
}

void script_get(request_context& ctx, response& res) {
  auto& store = *static_cast<script_store*>(ctx.route_data);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  const auto entry = store.get(name);
  if (!entry) {
    throw http_error(http::status::not_found, "script_not_found",
                     "no script named \"" + name + "\"");
  }
  if (ctx.req.method() == http::verb::delete_) {
    check_script_preconditions(ctx, entry);
    store.remove(name);
    res.body = json{{"name", name}, {"deleted", true}}.dump();
    return;
  }
  res.content_type = "text/x-lua; charset=utf-8";
  res.etag = entry->etag;
  res.body = *entry->source;
}

void scripts_list(request_context& ctx, response& res) {
  auto& store = *static_cast<script_store*>(ctx.route_data);
  check_query_params(ctx.query, {});
  json list = json::array();
  for (const auto& e : store.list()) {
    list.push_back({{"name", e.name},
                    {"bytes", e.source->size()},
                    {"etag", e.etag},
                    {"updated_unix", iso_time(e.updated)},
                    {"href", "/scripts/" + e.name}});
  }
  res.body = json{{"scripts", list}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace evald::endpoints
