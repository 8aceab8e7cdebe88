#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/net.hpp"
#include "server/response.hpp"

namespace evald {

class tenant_account;

// What a key may do (a set of bits). A route needs any one of its scopes; `admin`
// may do everything, for every tenant.
enum class scope : std::uint8_t {
  eval = 1,           // POST /eval, /eval-launch, /prime, /factor, /chargen, own jobs
  read = 2,           // GET own jobs, GET scripts
  scripts_write = 4,  // PUT/DELETE named scripts
  metrics = 8,        // /metrics, /stats, /stats/stream, the dashboard
  admin = 16,         // everything, every tenant
};
using scope_set = std::uint8_t;
inline constexpr scope_set all_scopes = 31;
constexpr scope_set operator|(scope a, scope b) {
  return static_cast<scope_set>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr scope_set operator|(scope_set a, scope b) {
  return static_cast<scope_set>(a | static_cast<unsigned>(b));
}
constexpr bool has(scope_set set, scope s) {
  return (set & static_cast<unsigned>(s)) != 0;
}

// "eval", "read", "scripts:write", "metrics", "admin" → the scope; nullopt otherwise.
std::optional<scope> scope_named(std::string_view name);
// The scope's name as keys and 403s spell it.
const char* name(scope s);
// "eval read" (space-separated, RFC 6750's scope syntax).
std::string scope_names(scope_set set);

// Who sent a request: a tenant and the key it used ("" for an anonymous client).
struct caller {
  std::string tenant;
  std::string key_id;
  scope_set scopes = 0;
  // The tenant's quotas, weight and counters (shared by all its keys).
  std::shared_ptr<tenant_account> account;
  bool admin() const noexcept { return has(scopes, scope::admin); }
};

// Decides who sent a request, from its Authorization header. Shared by every worker
// (thread-safe); the keys behind it can change at any time (a reload), each request
// sees one whole set.
class authenticator {
 public:
  virtual ~authenticator() = default;
  // The caller, or throws http_error 401 (no credentials where some are needed, an
  // unknown or revoked token) with the WWW-Authenticate header filled.
  virtual std::shared_ptr<const caller> authenticate(const request& req) const = 0;
  // The caller a verified client certificate names (mTLS): tenant `tenant` with
  // `scopes`, its account from the same tenants as the keys'.
  virtual std::shared_ptr<const caller> certificate_caller(const std::string& tenant,
                                                           scope_set scopes) const = 0;
};

// For the session: the caller of `req` if it may use a route that needs one of
// `needs`; otherwise fills `res` with the 401 or 403 (JSON body, WWW-Authenticate)
// and returns nullptr.
// `certified`: the caller the connection's client certificate names (nullptr: none); a
// request without an Authorization header acts as it.
std::shared_ptr<const caller> authorize(const authenticator& auth, const request& req,
                                        scope_set needs, response& res,
                                        const std::shared_ptr<const caller>& certified = nullptr);

}  // namespace evald
