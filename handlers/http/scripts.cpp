// Named scripts: PUT /scripts/<name> (body = Lua source, compiled at once),
// GET /scripts/<name> (the source), DELETE /scripts/<name>, GET /scripts; written
// once for every backend.
#include <nlohmann/json.hpp>

#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/request/script_request.hpp"
#include "handlers/store/backend.hpp"
#include "server/http_error.hpp"
#include "server/preconditions.hpp"

namespace evald::endpoints {
namespace {

using json = nlohmann::ordered_json;

std::string name_of(const request_context& ctx) {
  std::string name(ctx.path.substr(std::string_view("/scripts/").size()));
  if (!valid_script_name(name)) {
    throw bad_request("a script name is 1 to 64 characters from A-Z a-z 0-9 _ . -");
  }
  return name;
}

// If-Match / If-None-Match against the stored script (PUT with If-None-Match: *
// creates only; If-Match: <etag> replaces only that version).
void check_script_preconditions(const request_context& ctx, const script_entry* current) {
  if (!has_preconditions(ctx.req)) {
    return;
  }
  if (evaluate_preconditions(ctx.req, current ? std::string_view(current->etag) : "",
                             current != nullptr) != precondition::proceed) {
    throw http_error(http::status::precondition_failed, "precondition_failed",
                     current ? "the script \"" + current->name + "\" does not match the condition"
                             : "no script matches the condition");
  }
}

// The request's If-Match / If-None-Match as a store condition (empty: none), judged
// again in the store's own step: between the check above and the write, another
// client may have created or replaced the script.
script_store::condition preconditions_of(const request_context& ctx) {
  if (!has_preconditions(ctx.req)) {
    return {};
  }
  return [&ctx](const script_entry* current) {
    return evaluate_preconditions(ctx.req, current ? std::string_view(current->etag) : "",
                                  current != nullptr) == precondition::proceed;
  };
}

http_error changed_meanwhile(const std::string& name) {
  return http_error(http::status::precondition_failed, "precondition_failed",
                    "the script \"" + name + "\" changed: it does not match the condition");
}

}  // namespace

net::awaitable<void> script_put(request_context& ctx, response& res, backend& stores) {
  auto& store = stores.scripts(ctx.owner);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  std::string source = ctx.req.body();
  if (source.size() > ctx.settings.scripts.max_source) {
    throw http_error(http::status::payload_too_large, "source_too_large",
                     "source is " + std::to_string(source.size()) +
                         " bytes; scripts.max_source is " +
                         std::to_string(ctx.settings.scripts.max_source));
  }
  const auto before = co_await store.current();
  check_script_preconditions(ctx, before->find(name));
  {
    // Compiled now, so a syntax error is the PUT's 400, not every later run's.
    const sandbox::script_vm vm(source, configured_script_limits(ctx.settings));
    if (!vm.compiled()) {
      throw script_http_error(*vm.failure());
    }
  }
  const auto bytes = source.size();
  const auto outcome = co_await store.write(name, std::move(source), preconditions_of(ctx));
  if (outcome == script_store::write_result::precondition_failed) {
    throw changed_meanwhile(name);
  }
  if (outcome == script_store::write_result::full) {
    throw http_error(http::status::insufficient_storage, "too_many_scripts",
                     "scripts.max_named (" + std::to_string(ctx.settings.scripts.max_named) +
                         ") scripts are stored; delete one first");
  }
  const auto after = co_await store.current();  // this node reads its own write
  const script_entry* stored = after->find(name);
  res.status =
      outcome == script_store::write_result::created ? http::status::created : http::status::ok;
  res.etag = stored != nullptr ? stored->etag : "";
  res.add_header("Location", "/scripts/" + name);
  res.body = json{{"name", name}, {"bytes", bytes}, {"href", "/scripts/" + name}}.dump();
}

net::awaitable<void> script_get(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  const auto catalog = co_await stores.scripts(ctx.owner).current();
  const script_entry* entry = catalog->find(name);
  if (entry == nullptr) {
    throw http_error(http::status::not_found, "script_not_found",
                     "no script named \"" + name + "\"");
  }
  res.content_type = "text/x-lua; charset=utf-8";
  res.etag = entry->etag;
  res.body = *entry->source;
}

net::awaitable<void> script_delete(request_context& ctx, response& res, backend& stores) {
  auto& store = stores.scripts(ctx.owner);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  const auto catalog = co_await store.current();
  const script_entry* entry = catalog->find(name);
  if (entry == nullptr) {
    throw http_error(http::status::not_found, "script_not_found",
                     "no script named \"" + name + "\"");
  }
  check_script_preconditions(ctx, entry);
  const auto outcome = co_await store.write(name, std::nullopt, preconditions_of(ctx));
  if (outcome == script_store::write_result::precondition_failed) {
    throw changed_meanwhile(name);
  }
  res.body = json{{"name", name}, {"deleted", true}}.dump();
}

net::awaitable<void> scripts_list(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const auto catalog = co_await stores.scripts(ctx.owner).current();
  json list = json::array();
  for (const auto& [name, e] : catalog->entries) {
    const auto updated =
        std::chrono::duration_cast<std::chrono::seconds>(e.updated.time_since_epoch()).count();
    list.push_back({{"name", name},
                    {"bytes", e.source->size()},
                    {"etag", e.etag},
                    {"updated_unix", std::to_string(updated)},
                    {"href", "/scripts/" + name}});
  }
  res.body = json{{"scripts", list}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace evald::endpoints
