#include "handlers/params.hpp"

#include <charconv>

#include "server/http_error.hpp"

namespace evald {

std::optional<std::uint64_t> parse_u64_decimal(std::string_view text) noexcept {
  if (text.empty()) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

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

void append_u64_json(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.push_back('"');
  out.append(buf, end);
  out.push_back('"');
}

}  // namespace evald
