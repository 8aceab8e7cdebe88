#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "handlers/auth/keys_file.hpp"
#include "server/auth.hpp"
#include "server/tenant.hpp"

namespace evald::auth {

// The authenticator of a running server: Bearer tokens checked against the keys
// file's digests, and the scopes an anonymous client gets. A reload swaps the whole
// key set at once (requests in flight keep the set they started with); a removed
// key fails from the next request, on keep-alive connections too.
class key_authenticator final : public authenticator {
 public:
  // No keys file: every client is the one tenant "anonymous" with `anonymous`
  // scopes. With one: it is read now (throws std::invalid_argument naming the
  // problem) and the anonymous scopes apply to requests without a token.
  // Each caller carries its tenant's account from `tenants` (quotas, weight).
  key_authenticator(std::string keys_file, scope_set anonymous, tenant_registry& tenants);

  std::shared_ptr<const caller> authenticate(const request& req) const override;
  std::shared_ptr<const caller> certificate_caller(const std::string& tenant,
                                                   scope_set scopes) const override;

  // Reads the keys file again, all or nothing: on any problem the old keys stay and
  // the returned text says why (empty on success). No keys file: nothing to do.
  std::string reload();

  const std::string& keys_file() const noexcept { return keys_file_; }
  std::size_t key_count() const;

 private:
  std::shared_ptr<const key_set> current() const;
  // The set with every caller's account filled in (and the anonymous caller's limits
  // updated to the file's "tenants").
  std::shared_ptr<const key_set> with_accounts(key_set set);

  std::string keys_file_;
  tenant_registry& tenants_;
  std::shared_ptr<const caller> anonymous_;  // nullptr: a token is required
  mutable std::mutex mutex_;                 // guards keys_ (the pointer, not the set)
  std::shared_ptr<const key_set> keys_;
  // Bumped after each reload: a worker keeps its own copy of the set (and the tokens it
  // has verified against it) until the version moves, so a request takes no lock and
  // a known token costs a constant-time compare instead of a SHA-256.
  std::atomic<std::uint64_t> version_{1};
  std::uint64_t instance_;  // unique per authenticator in the process (for that copy)
};

}  // namespace evald::auth
