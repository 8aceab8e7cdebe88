#include "handlers/request/idempotency_key.hpp"

#include "server/http_error.hpp"

namespace evald {
namespace {

[[noreturn]] void refuse(const std::string& why) {
  throw http_error(http::status::bad_request, "bad_idempotency_key",
                   "Idempotency-Key: " + why +
                       "; send a unique string per request, e.g. "
                       "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"");
}

}  // namespace

std::string parse_idempotency_key(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  std::string key;
  if (!value.empty() && value.front() == '"') {
    // sf-string: printable ASCII, with \" and \\ the only escapes.
    std::size_t i = 1;
    for (; i < value.size() && value[i] != '"'; ++i) {
      char c = value[i];
      if (c == '\\') {
        if (i + 1 >= value.size() || (value[i + 1] != '"' && value[i + 1] != '\\')) {
          refuse("a backslash may only escape \" or \\ inside the quotes");
        }
        c = value[++i];
      } else if (c < 0x20 || c > 0x7e) {
        refuse("only printable ASCII is allowed");
      }
      key.push_back(c);
    }
    if (i >= value.size()) {
      refuse("the closing quote is missing");
    }
    if (i + 1 != value.size()) {
      refuse("nothing may follow the closing quote");
    }
  } else {
    for (const char c : value) {
      if (c <= 0x20 || c > 0x7e || c == '"' || c == '\\' || c == ',' || c == ';') {
        refuse(
            "an unquoted key is printable ASCII without spaces, quotes, commas or "
            "semicolons; quote it");
      }
    }
    key.assign(value);
  }
  if (key.empty()) {
    refuse("the key is empty");
  }
  if (key.size() > max_idempotency_key) {
    refuse("the key is " + std::to_string(key.size()) + " characters long, at most " +
           std::to_string(max_idempotency_key) + " are allowed");
  }
  return key;
}

}  // namespace evald
