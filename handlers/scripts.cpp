// Named scripts: PUT /scripts/<name> (body = Lua source, compiled at once),
// GET /scripts/<name> (the source), DELETE /scripts/<name>, GET /scripts.
#include <nlohmann/json.hpp>

#if defined(EVALD_HAS_CLUSTER)
#include "handlers/cluster_node.hpp"
#include "handlers/routes.hpp"
#endif
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

// The request's If-Match / If-None-Match as a store condition (empty: none).
script_store::condition preconditions_of(const request_context& ctx) {
  if (!has_preconditions(ctx.req)) {
    return {};
  }
  return [&ctx](const script_store::entry* current) {
    return evaluate_preconditions(ctx.req, current ? std::string_view(current->etag) : "",
                                  current != nullptr) == precondition::proceed;
  };
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
  // Judged again in the store's own step: between the check above and the write,
  // another PUT may have created or replaced the script.
  const auto outcome = store.put(name, std::move(source), preconditions_of(ctx));
  if (outcome == script_store::put_result::precondition_failed) {
    throw http_error(http::status::precondition_failed, "precondition_failed",
                     "the script \"" + name + "\" changed: it does not match the condition");
  }
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
    if (store.remove(name, preconditions_of(ctx)) ==
        script_store::remove_result::precondition_failed) {
      throw http_error(http::status::precondition_failed, "precondition_failed",
                       "the script \"" + name + "\" changed: it does not match the condition");
    }
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

#if defined(EVALD_HAS_CLUSTER)
// Cluster mode: the scripts live in Redis; this node's store is a mirror, brought up
// to date before every read, and written through Redis with a compare-and-set on
// what the preconditions were judged against (a concurrent change → 412).
namespace {

http_error cluster_unavailable() {
  http_error e(http::status::service_unavailable, "cluster_unavailable",
               "the cluster store (Redis) is unreachable; retry later");
  e.retry_after = "1";
  return e;
}

cluster_node& node_of(const request_context& ctx) {
  return *static_cast<route_stores*>(ctx.route_data)->cluster;
}

}  // namespace

net::awaitable<void> cluster_script_put(request_context& ctx, response& res) {
  auto& node = node_of(ctx);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  std::string source = ctx.req.body();
  if (source.size() > ctx.settings.scripts.max_source) {
    throw http_error(http::status::payload_too_large, "source_too_large",
                     "source is " + std::to_string(source.size()) +
                         " bytes; scripts.max_source is " +
                         std::to_string(ctx.settings.scripts.max_source));
  }
  {
    const sandbox::script_vm vm(source, configured_script_limits(ctx.settings));
    if (!vm.compiled()) {
      throw script_http_error(*vm.failure());
    }
  }
  cluster_queue::script_write outcome{};
  try {
    co_await node.sync_scripts(ctx.owner);
    const auto current = node.scripts().get(name);
    check_script_preconditions(ctx, current);
    // (Built before the co_await: GCC 12 miscompiles a conditional operator's
    // temporary inside a co_await expression.)
    std::optional<std::string> expected;
    if (current) {
      expected = *current->source;
    }
    outcome = co_await node.queue(ctx.owner).write_script(name, expected, source,
                                                          ctx.settings.scripts.max_named);
    co_await node.sync_scripts(ctx.owner);
  } catch (const redis_unavailable&) {
    throw cluster_unavailable();
  }
  if (outcome == cluster_queue::script_write::full) {
    throw http_error(http::status::insufficient_storage, "too_many_scripts",
                     "scripts.max_named (" + std::to_string(ctx.settings.scripts.max_named) +
                         ") scripts are stored; delete one first");
  }
  if (outcome == cluster_queue::script_write::conflict) {
    throw http_error(http::status::precondition_failed, "precondition_failed",
                     "the script \"" + name + "\" changed on another node meanwhile; retry");
  }
  const auto stored = node.scripts().get(name);
  res.status =
      outcome == cluster_queue::script_write::created ? http::status::created : http::status::ok;
  res.etag = stored ? stored->etag : "";
  res.add_header("Location", "/scripts/" + name);
  res.body = json{{"name", name}, {"bytes", source.size()}, {"href", "/scripts/" + name}}.dump();
}

net::awaitable<void> cluster_script_get(request_context& ctx, response& res) {
  auto& node = node_of(ctx);
  check_query_params(ctx.query, {});
  const std::string name = name_of(ctx);
  try {
    co_await node.sync_scripts(ctx.owner);
    const auto entry = node.scripts().get(name);
    if (!entry) {
      throw http_error(http::status::not_found, "script_not_found",
                       "no script named \"" + name + "\"");
    }
    if (ctx.req.method() == http::verb::delete_) {
      check_script_preconditions(ctx, entry);
      const auto outcome = co_await node.queue(ctx.owner).write_script(
          name, *entry->source, std::nullopt, ctx.settings.scripts.max_named);
      if (outcome == cluster_queue::script_write::conflict) {
        throw http_error(http::status::precondition_failed, "precondition_failed",
                         "the script \"" + name + "\" changed on another node meanwhile; retry");
      }
      co_await node.sync_scripts(ctx.owner);
      res.body = json{{"name", name}, {"deleted", true}}.dump();
      co_return;
    }
    res.content_type = "text/x-lua; charset=utf-8";
    res.etag = entry->etag;
    res.body = *entry->source;
  } catch (const redis_unavailable&) {
    throw cluster_unavailable();
  }
}

net::awaitable<void> cluster_scripts_list(request_context& ctx, response& res) {
  auto& node = node_of(ctx);
  try {
    co_await node.sync_scripts(ctx.owner);
  } catch (const redis_unavailable&) {
    throw cluster_unavailable();
  }
  // The mirror is current: list it as the in-memory route does.
  void* data = ctx.route_data;
  ctx.route_data = &node.scripts();
  scripts_list(ctx, res);
  ctx.route_data = data;
}
#endif

}  // namespace evald::endpoints
