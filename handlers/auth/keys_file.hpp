#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "handlers/auth/token.hpp"
#include "server/auth.hpp"

namespace evald::auth {

// One API key as the keys file lists it: never its secret, only the token's digest.
struct key_entry {
  digest sha256{};
  caller who;  // tenant, key id, scopes
};

// Every key, by key id. Immutable once read: a reload builds a new set.
struct key_set {
  std::map<std::string, key_entry, std::less<>> keys;
  // Each tenant's limits: the config's defaults, with the file's "tenants" over them.
  std::map<std::string, config::tenant_limits, std::less<>> tenants;
  config::tenant_limits defaults;
  const config::tenant_limits& limits_of(const std::string& tenant) const {
    const auto it = tenants.find(tenant);
    return it == tenants.end() ? defaults : it->second;
  }
};

// Reads a keys file (JSON):
//   {"keys": [{"id": "<12 base62>", "sha256": "<64 hex>", "tenant": "acme",
//              "scopes": ["eval", "read"]}, ...],
//    "tenants": {"acme": {"weight": 3, "requests_per_second": 100, ...}}}
// all or nothing: throws std::invalid_argument naming the JSON path of the first
// problem (an unknown member, a duplicate id, a bad digest, an unknown scope, a bad
// limit). A tenant's limits are `defaults` with its "tenants" entry over them.
key_set parse_keys(std::string_view text, const config::tenant_limits& defaults = {});
key_set read_keys_file(const std::string& path, const config::tenant_limits& defaults = {});

// A keys-file entry for a token (what `evald keys new` prints).
std::string keys_entry_json(const new_token& t, const std::string& tenant, scope_set scopes);

// Tenant names: 1 to 64 of [a-z0-9_-] (they become metric labels, log fields and script
// namespaces), but not "shared" (the shared script namespace).
bool is_tenant_name(std::string_view name);

}  // namespace evald::auth
