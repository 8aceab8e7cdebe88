#include "server/auth.hpp"

#include "server/http_error.hpp"
#include "server/router.hpp"
#include "server/tenant.hpp"

namespace evald {
namespace {

constexpr std::pair<scope, const char*> scope_names_table[] = {
    {scope::eval, "eval"},       {scope::read, "read"},   {scope::scripts_write, "scripts:write"},
    {scope::metrics, "metrics"}, {scope::admin, "admin"},
};

}  // namespace

std::optional<scope> scope_named(std::string_view text) {
  for (const auto& [s, n] : scope_names_table) {
    if (text == n) {
      return s;
    }
  }
  return std::nullopt;
}

const char* name(scope s) {
  for (const auto& [x, n] : scope_names_table) {
    if (x == s) {
      return n;
    }
  }
  return "?";
}

std::string scope_names(scope_set set) {
  std::string out;
  for (const auto& [s, n] : scope_names_table) {
    if (has(set, s)) {
      out += out.empty() ? "" : " ";
      out += n;
    }
  }
  return out;
}

std::shared_ptr<const caller> authorize(const authenticator& auth, const request& req,
                                        scope_set needs, response& res,
                                        const std::shared_ptr<const caller>& certified) {
  try {
    auto who = certified && req.find(http::field::authorization) == req.end()
                   ? certified
                   : auth.authenticate(req);
    if ((who->scopes & (needs | static_cast<scope_set>(scope::admin))) != 0) {
      return who;
    }
    const std::string wanted = scope_names(needs);
    if (who->key_id.empty()) {
      // A client without a key: a key could grant it, so 401 asks for one.
      http_error e(http::status::unauthorized, "unauthorized",
                   "this route needs an API key with the scope " + wanted +
                       ": send Authorization: Bearer <token>");
      e.www_authenticate = "Bearer realm=\"evald\"";
      set_client_error(res, e);
      return nullptr;
    }
    if (who->account) {
      who->account->count_forbidden();
    }
    // RFC 6750 §3.1: a valid token without the scope the resource needs.
    http_error e(http::status::forbidden, "insufficient_scope",
                 "this key (tenant \"" + who->tenant + "\") lacks the scope this route needs: " +
                     wanted + (who->scopes != 0 ? "; it has: " + scope_names(who->scopes) : ""));
    e.www_authenticate =
        "Bearer realm=\"evald\", error=\"insufficient_scope\", scope=\"" + wanted + "\"";
    set_client_error(res, e);
  } catch (const http_error& e) {
    set_client_error(res, e);
  }
  return nullptr;
}

}  // namespace evald
