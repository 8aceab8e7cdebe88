#include "handlers/auth/key_authenticator.hpp"

#include <map>
#include <stdexcept>

#include "server/http_error.hpp"

namespace evald::auth {
namespace {

constexpr const char* realm = "Bearer realm=\"evald\"";

http_error missing_token() {
  http_error e(http::status::unauthorized, "unauthorized",
               "this route needs an API key: send Authorization: Bearer <token> (`evald keys "
               "new` makes one)");
  e.www_authenticate = realm;
  return e;
}

http_error invalid_token(const std::string& why) {
  http_error e(http::status::unauthorized, "invalid_token", why);
  e.www_authenticate = std::string(realm) + ", error=\"invalid_token\"";
  return e;
}

// Equal lengths are compared without an early exit (the length of a token is public).
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

// One per worker thread: the key set it last used and the tokens verified against it.
struct verified_tokens {
  std::uint64_t owner = 0;  // the authenticator's instance number
  std::uint64_t version = 0;
  std::shared_ptr<const key_set> keys;
  std::map<std::string, std::string, std::less<>> tokens;  // key id → the verified token
};
thread_local verified_tokens verified;
std::atomic<std::uint64_t> instances{0};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

key_authenticator::key_authenticator(std::string keys_file, scope_set anonymous,
                                     tenant_registry& tenants)
    : keys_file_(std::move(keys_file)),
      tenants_(tenants),
      instance_(instances.fetch_add(1, std::memory_order_relaxed) + 1) {
  key_set set;
  set.defaults = tenants_.defaults();
  if (!keys_file_.empty()) {
    set = read_keys_file(keys_file_, tenants_.defaults());
  }
  if (anonymous != 0) {
    auto who = std::make_shared<caller>();
    who->tenant = "anonymous";
    who->scopes = anonymous;
    who->account = tenants_.account("anonymous", set.limits_of("anonymous"));
    anonymous_ = std::move(who);
  }
  keys_ = with_accounts(std::move(set));
}

std::shared_ptr<const key_set> key_authenticator::with_accounts(key_set set) {
  for (auto& [id, entry] : set.keys) {
    entry.who.account = tenants_.account(entry.who.tenant, set.limits_of(entry.who.tenant));
  }
  if (anonymous_) {
    // The same account object: only its limits change (atomics).
    tenants_.account("anonymous", set.limits_of("anonymous"));
  }
  return std::make_shared<const key_set>(std::move(set));
}

std::shared_ptr<const key_set> key_authenticator::current() const {
  const std::lock_guard lock(mutex_);
  return keys_;
}

std::size_t key_authenticator::key_count() const {
  return current()->keys.size();
}

std::string key_authenticator::reload() {
  if (keys_file_.empty()) {
    return {};
  }
  try {
    auto fresh = with_accounts(read_keys_file(keys_file_, tenants_.defaults()));
    {
      const std::lock_guard lock(mutex_);
      keys_ = std::move(fresh);
    }
    version_.fetch_add(1, std::memory_order_release);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::shared_ptr<const caller> key_authenticator::certificate_caller(const std::string& tenant,
                                                                    scope_set scopes) const {
  auto who = std::make_shared<caller>();
  who->tenant = tenant;
  who->key_id = "x509";  // the access log's key column: a certificate, not a key
  who->scopes = scopes;
  who->account = tenants_.account(tenant, current()->limits_of(tenant));
  return who;
}

std::shared_ptr<const caller> key_authenticator::authenticate(const request& req) const {
  const auto [first, last] = req.equal_range(http::field::authorization);
  if (first == last) {
    if (anonymous_) {
      return anonymous_;
    }
    throw missing_token();
  }
  if (std::next(first) != last) {
    http_error e(http::status::bad_request, "invalid_request",
                 "Authorization was sent more than once; send one");
    e.www_authenticate = std::string(realm) + ", error=\"invalid_request\"";
    throw e;
  }
  const std::string_view value(first->value().data(), first->value().size());
  const auto space = value.find(' ');
  if (space == std::string_view::npos || !iequals(value.substr(0, space), "Bearer")) {
    throw invalid_token("Authorization must be \"Bearer <token>\"");
  }
  std::string_view token = value.substr(space + 1);
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  verified_tokens& cache = verified;
  const std::uint64_t version = version_.load(std::memory_order_acquire);
  if (cache.owner != instance_ || cache.version != version) {
    cache.owner = instance_;
    cache.version = version;
    cache.keys = current();
    cache.tokens.clear();
  }
  const auto& keys = cache.keys;
  // A token this worker has verified against this key set: one constant-time compare
  // (no checksum, no digest).
  if (token.size() == token_length && token.starts_with(token_prefix)) {
    const std::string_view claimed = token.substr(token_prefix.size(), key_id_length);
    const auto known = cache.tokens.find(claimed);
    if (known != cache.tokens.end() && same_secret(known->second, token)) {
      const auto entry = keys->keys.find(claimed);
      return std::shared_ptr<const caller>(keys, &entry->second.who);
    }
  }
  const auto id = key_id_of(token);
  if (!id) {
    throw invalid_token("the token is not an evald API key (malformed, or its checksum fails)");
  }
  const auto it = keys->keys.find(*id);
  // The digest is computed either way, so an unknown id and a wrong secret take the
  // same time.
  const digest d = sha256(token);
  if (it == keys->keys.end() || !same_digest(d, it->second.sha256)) {
    throw invalid_token("unknown or revoked API key " + std::string(*id));
  }
  if (cache.tokens.size() >= 4096) {
    cache.tokens.clear();  // bounded: as many keys as a keys file sensibly holds
  }
  cache.tokens.insert_or_assign(std::string(*id), std::string(token));
  // Shares ownership with the key set: a reload meanwhile does not free it.
  return std::shared_ptr<const caller>(keys, &it->second.who);
}

}  // namespace evald::auth
