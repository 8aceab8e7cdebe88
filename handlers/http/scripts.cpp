// Named scripts: PUT /scripts/<name> (body = Lua source, compiled at once),
// GET /scripts/<name> (the source), DELETE /scripts/<name>, GET /scripts; each also as
// /scripts/<namespace>/<name>. Every tenant has its own namespace; "shared" is read by
// all and written with admin. Written once for every backend.
#include <nlohmann/json.hpp>

#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/request/script_request.hpp"
#include "handlers/store/backend.hpp"
#include "handlers/store/store_errors.hpp"
#include "server/http_error.hpp"
#include "server/preconditions.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {
namespace {

using json = nlohmann::ordered_json;

bool valid_namespace(std::string_view ns) noexcept {
  if (ns.empty() || ns.size() > 64) {
    return false;
  }
  for (const char c : ns) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

// /scripts/<name> (the caller's namespace; a read falls back to the shared one) or
// /scripts/<namespace>/<name>.
struct script_address {
  std::string ns;  // "" for /scripts/<name>
  std::string name;
};

script_address address_of(const request_context& ctx) {
  const std::string_view rest = ctx.path.substr(std::string_view("/scripts/").size());
  script_address a;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    a.ns = std::string(rest.substr(0, slash));
    a.name = std::string(rest.substr(slash + 1));
    if (!valid_namespace(a.ns)) {
      throw bad_request(
          "a script namespace is \"shared\" or a tenant name (1 to 64 of a-z, 0-9, "
          "_ and -): /scripts/<name> or /scripts/<namespace>/<name>");
    }
  } else {
    a.name = std::string(rest);
  }
  if (!valid_script_name(a.name)) {
    throw bad_request("a script name is 1 to 64 characters from A-Z a-z 0-9 _ . -");
  }
  return a;
}

// The namespace a write goes to: the caller's own, or (admin only) the shared one or
// another tenant's.
std::string writable_namespace(const request_context& ctx, const script_address& a) {
  const std::string own = ctx.tenant();
  if (a.ns.empty() || a.ns == own) {
    return own;
  }
  if (ctx.who != nullptr && ctx.who->admin()) {
    return a.ns;
  }
  if (ctx.who != nullptr && ctx.who->account) {
    ctx.who->account->count_forbidden();
  }
  http_error e(http::status::forbidden, "insufficient_scope",
               "tenant \"" + own + "\" writes its own namespace (/scripts/<name>); the " +
                   (a.ns == shared_scripts ? std::string("shared namespace")
                                           : "namespace \"" + a.ns + "\"") +
                   " needs the admin scope");
  e.www_authenticate = "Bearer realm=\"evald\", error=\"insufficient_scope\", scope=\"admin\"";
  throw e;
}

// The script a read names, or nullptr: /scripts/<name> is the caller's own, else the
// shared one; /scripts/<ns>/<name> is in the caller's own namespace, the shared one or
// (admin) any; another tenant's is not there for the caller (no oracle).
const script_entry* readable(const request_context& ctx, const script_catalog& catalog,
                             const script_address& a) {
  const std::string own = ctx.tenant();
  if (a.ns.empty()) {
    return catalog.resolve(own, a.name);
  }
  if (a.ns == own || a.ns == shared_scripts || (ctx.who != nullptr && ctx.who->admin())) {
    return catalog.find(script_key(a.ns, a.name));
  }
  return nullptr;
}

std::string href_of(std::string_view key) {
  return "/scripts/" + std::string(key);
}

http_error no_script(const script_address& a) {
  const std::string shown = a.ns.empty() ? a.name : a.ns + "/" + a.name;
  return http_error(http::status::not_found, "script_not_found",
                    "no script named \"" + shown + "\"");
}

// The caps of namespace `ns`: its tenant's max_scripts and max_script_bytes (the
// shared namespace has none but scripts.max_named).
script_store::quota caps_of(const request_context& ctx, const std::string& ns) {
  std::shared_ptr<tenant_account> account;
  if (ctx.who != nullptr && ctx.who->tenant == ns) {
    account = ctx.who->account;
  } else if (ns != shared_scripts && ctx.owner.tenants() != nullptr) {
    account = ctx.owner.tenants()->named(ns);
  }
  if (!account) {
    return {};
  }
  const auto limits = account->limits();
  return {limits.max_scripts, limits.max_script_bytes};
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
  const script_address a = address_of(ctx);
  const std::string ns = writable_namespace(ctx, a);
  const std::string key = script_key(ns, a.name);
  std::string source = ctx.req.body();
  if (source.size() > ctx.settings.scripts.max_source) {
    throw http_error(http::status::payload_too_large, "source_too_large",
                     "source is " + std::to_string(source.size()) +
                         " bytes; scripts.max_source is " +
                         std::to_string(ctx.settings.scripts.max_source));
  }
  const auto before = co_await store.current();
  check_script_preconditions(ctx, before->find(key));
  {
    // Compiled now, so a syntax error is the PUT's 400, not every later run's.
    const sandbox::script_vm vm(source, configured_script_limits(ctx.settings));
    if (!vm.compiled()) {
      throw script_http_error(*vm.failure());
    }
  }
  const auto bytes = source.size();
  const auto caps = caps_of(ctx, ns);
  const auto outcome = co_await store.write(key, std::move(source), preconditions_of(ctx), caps);
  if (outcome == script_store::write_result::precondition_failed) {
    throw changed_meanwhile(key);
  }
  if (outcome == script_store::write_result::over_count) {
    throw tenant_quota_exceeded("scripts", ns, caps.max_count,
                                "has " + std::to_string(caps.max_count) +
                                    " named scripts (its max_scripts); delete one first");
  }
  if (outcome == script_store::write_result::over_bytes) {
    throw tenant_quota_exceeded("script_bytes", ns, caps.max_bytes,
                                "would keep more than " + std::to_string(caps.max_bytes) +
                                    " bytes of named scripts (its max_script_bytes)");
  }
  if (outcome == script_store::write_result::full) {
    throw http_error(http::status::insufficient_storage, "too_many_scripts",
                     "scripts.max_named (" + std::to_string(ctx.settings.scripts.max_named) +
                         ") scripts are stored; delete one first");
  }
  const auto after = co_await store.current();  // this node reads its own write
  const script_entry* stored = after->find(key);
  res.status =
      outcome == script_store::write_result::created ? http::status::created : http::status::ok;
  res.etag = stored != nullptr ? stored->etag : "";
  res.add_header("Location", href_of(key));
  res.body =
      json{{"name", a.name}, {"namespace", ns}, {"bytes", bytes}, {"href", href_of(key)}}.dump();
}

net::awaitable<void> script_get(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const script_address a = address_of(ctx);
  const auto catalog = co_await stores.scripts(ctx.owner).current();
  const script_entry* entry = readable(ctx, *catalog, a);
  if (entry == nullptr) {
    throw no_script(a);
  }
  res.content_type = "text/x-lua; charset=utf-8";
  res.add_header("Content-Location", href_of(entry->name));  // which namespace answered
  res.etag = entry->etag;
  res.body = *entry->source;
}

net::awaitable<void> script_delete(request_context& ctx, response& res, backend& stores) {
  auto& store = stores.scripts(ctx.owner);
  check_query_params(ctx.query, {});
  const script_address a = address_of(ctx);
  // Another tenant's script is not there for the caller (404); the shared one needs
  // admin (403).
  const bool admin = ctx.who != nullptr && ctx.who->admin();
  if (!a.ns.empty() && a.ns != ctx.tenant() && a.ns != shared_scripts && !admin) {
    throw no_script(a);
  }
  const std::string ns = writable_namespace(ctx, a);
  const std::string key = script_key(ns, a.name);
  const auto catalog = co_await store.current();
  const script_entry* entry = catalog->find(key);
  if (entry == nullptr) {
    throw no_script(a);
  }
  check_script_preconditions(ctx, entry);
  const auto outcome = co_await store.write(key, std::nullopt, preconditions_of(ctx), {});
  if (outcome == script_store::write_result::precondition_failed) {
    throw changed_meanwhile(key);
  }
  res.body = json{{"name", a.name}, {"namespace", ns}, {"deleted", true}}.dump();
}

net::awaitable<void> scripts_list(request_context& ctx, response& res, backend& stores) {
  check_query_params(ctx.query, {});
  const auto catalog = co_await stores.scripts(ctx.owner).current();
  const std::string own = ctx.tenant();
  const bool all = ctx.who != nullptr && ctx.who->admin();
  json list = json::array();
  for (const auto& [key, e] : catalog->entries) {
    const std::string_view ns = script_namespace(key);
    if (!all && ns != own && ns != shared_scripts) {
      continue;  // another tenant's
    }
    const auto updated =
        std::chrono::duration_cast<std::chrono::seconds>(e.updated.time_since_epoch()).count();
    list.push_back({{"name", script_short_name(key)},
                    {"namespace", ns},
                    {"bytes", e.source->size()},
                    {"etag", e.etag},
                    {"updated_unix", std::to_string(updated)},
                    {"href", href_of(key)}});
  }
  res.body = json{{"scripts", list}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace evald::endpoints
