// API keys: the keys file parser (all or nothing: only std::invalid_argument naming a
// path may come out) and the Authorization header as the authenticator reads it (only
// http_error 400/401 may come out). First byte: which of the two.
#include <cstdint>
#include <string_view>

#include "handlers/auth/key_authenticator.hpp"
#include "handlers/auth/keys_file.hpp"
#include "server/http_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    try {
      const auto set = evald::auth::parse_keys(text);
      for (const auto& [id, entry] : set.keys) {
        if (id.size() != evald::auth::key_id_length || entry.who.tenant.empty()) {
          __builtin_trap();  // a key the parser should have refused
        }
      }
    } catch (const std::invalid_argument&) {
    }
    return 0;
  }
  static evald::tenant_registry tenants{evald::config::tenant_limits{}};
  static const evald::auth::key_authenticator auth("", evald::scope_set{0}, tenants);
  evald::request req;
  try {
    req.set(evald::http::field::authorization, text);
  } catch (const std::exception&) {
    return 0;  // Beast refuses the value itself (CR/LF)
  }
  try {
    (void)auth.authenticate(req);
    __builtin_trap();  // no key exists: nothing may authenticate
  } catch (const evald::http_error& e) {
    const auto status = static_cast<unsigned>(e.status);
    if (status != 400 && status != 401) {
      __builtin_trap();
    }
  }
  return 0;
}
