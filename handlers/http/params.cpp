#include "handlers/http/params.hpp"

#include "server/ascii.hpp"
#include "server/http_error.hpp"

namespace evald {

void check_query_params(const query_params& query,
                        std::initializer_list<std::string_view> allowed) {
  const auto& items = query.items();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& key = items[i].first;
    bool known = false;
    for (auto a : allowed) {
      known = known || key == a;
    }
    if (!known) {
      std::string list;
      for (auto a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      throw bad_request("unknown query parameter \"" + key + "\" (allowed: " + list + ")");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (items[j].first == key) {
        throw bad_request("query parameter \"" + key + "\" given more than once");
      }
    }
  }
}

std::uint64_t require_u64(const query_params& query, std::string_view name) {
  const std::string* text = query.find(name);
  if (text == nullptr) {
    throw bad_request("missing query parameter \"" + std::string(name) + "\"");
  }
  const auto value = parse_u64_decimal(*text);
  if (!value) {
    throw bad_request(std::string(name) +
                      " must be a decimal integer from 0 to 18446744073709551615");
  }
  return *value;
}

std::optional<std::uint64_t> timeout_param(const query_params& query) {
  if (query.find("timeout_ms") == nullptr) {
    return std::nullopt;
  }
  const std::uint64_t v = require_u64(query, "timeout_ms");
  if (v == 0) {
    throw bad_request("timeout_ms must be at least 1");
  }
  return v;
}

}  // namespace evald
