#include "handlers/auth/keys_file.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "config/load.hpp"

namespace evald::auth {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::invalid_argument(path + ": " + why);
}

const std::string& text_member(const json& entry, const std::string& path, const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end()) {
    fail(path, std::string("\"") + name + "\" is missing");
  }
  if (!it->is_string()) {
    fail(path + "." + name, "must be a string");
  }
  return *it->get_ptr<const std::string*>();
}

}  // namespace

bool is_tenant_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "shared") {
    return false;
  }
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

key_set parse_keys(std::string_view text, const config::tenant_limits& defaults) {
  const json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) {
    fail("$", "not valid JSON");
  }
  if (!doc.is_object()) {
    fail("$", "must be an object with \"keys\"");
  }
  for (const auto& [k, v] : doc.items()) {
    if (k != "keys" && k != "tenants") {
      fail("$." + k, "unknown member (expected \"keys\" and \"tenants\")");
    }
  }
  const auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    fail("$.keys", "must be an array of keys");
  }
  key_set set;
  set.defaults = defaults;
  if (const auto tenants = doc.find("tenants"); tenants != doc.end()) {
    if (!tenants->is_object()) {
      fail("$.tenants", "must be an object of tenant names to their limits");
    }
    for (const auto& [name, limits] : tenants->items()) {
      if (!is_tenant_name(name)) {
        fail("$.tenants." + name,
             "a tenant name is 1 to 64 of a-z, 0-9, _ and - (not \"shared\", the shared "
             "script namespace)");
      }
      try {
        set.tenants.emplace(name,
                            config::read_tenant_limits(limits, "$.tenants." + name, defaults));
      } catch (const config::config_error& e) {
        throw std::invalid_argument(e.what());
      }
    }
  }
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const json& entry = (*keys)[i];
    const std::string path = "$.keys[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      fail(path, "must be an object");
    }
    for (const auto& [k, v] : entry.items()) {
      if (k != "id" && k != "sha256" && k != "tenant" && k != "scopes") {
        fail(path + "." + k, "unknown member (expected id, sha256, tenant, scopes)");
      }
    }
    key_entry e;
    e.who.key_id = text_member(entry, path, "id");
    if (e.who.key_id.size() != key_id_length || !is_base62(e.who.key_id)) {
      fail(path + ".id", "must be the 12-character key id `evald keys new` printed");
    }
    const auto d = digest_from_hex(text_member(entry, path, "sha256"));
    if (!d) {
      fail(path + ".sha256", "must be 64 hexadecimal digits (the token's SHA-256)");
    }
    e.sha256 = *d;
    e.who.tenant = text_member(entry, path, "tenant");
    if (!is_tenant_name(e.who.tenant)) {
      fail(path + ".tenant",
           "must be 1 to 64 of a-z, 0-9, _ and - (not \"shared\", the shared script "
           "namespace)");
    }
    const auto scopes = entry.find("scopes");
    if (scopes == entry.end() || !scopes->is_array() || scopes->empty()) {
      fail(path + ".scopes",
           "must be a non-empty array of eval, read, scripts:write, metrics, admin");
    }
    for (std::size_t k = 0; k < scopes->size(); ++k) {
      const json& s = (*scopes)[k];
      const auto* scope_text = s.get_ptr<const std::string*>();
      const auto named = scope_text != nullptr ? scope_named(*scope_text) : std::nullopt;
      if (!named) {
        fail(path + ".scopes[" + std::to_string(k) + "]",
             "unknown scope (expected eval, read, scripts:write, metrics or admin)");
      }
      e.who.scopes = e.who.scopes | *named;
    }
    const std::string id = e.who.key_id;
    if (!set.keys.emplace(id, std::move(e)).second) {
      fail(path + ".id", "the key id " + id + " is listed twice");
    }
  }
  return set;
}

key_set read_keys_file(const std::string& path, const config::tenant_limits& defaults) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument("cannot read the keys file " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_keys(text.str(), defaults);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("keys file " + path + ": " + e.what());
  }
}

std::string keys_entry_json(const new_token& t, const std::string& tenant, scope_set scopes) {
  json scopes_json = json::array();
  for (const scope s :
       {scope::eval, scope::read, scope::scripts_write, scope::metrics, scope::admin}) {
    if (has(scopes, s)) {
      scopes_json.push_back(name(s));
    }
  }
  nlohmann::ordered_json entry = {{"id", t.key_id},
                                  {"sha256", hex(sha256(t.token))},
                                  {"tenant", tenant},
                                  {"scopes", scopes_json}};
  return entry.dump();
}

}  // namespace evald::auth
