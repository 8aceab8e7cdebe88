#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evald {

// Splits a request target into path and query and decodes the query's
// application/x-www-form-urlencoded pairs. Pure; any thread.
struct target_parts {
  std::string_view path;
  std::string_view query;  // without '?'
};
// Visible ASCII only (RFC 3986 characters; no spaces, controls or raw bytes >= 0x80).
bool valid_target_chars(std::string_view target) noexcept;

// Absolute form with userinfo ("http://user@host/"), which RFC 9110 §4.2.4 forbids.
bool has_userinfo(std::string_view target) noexcept;

// Origin form "/p?q" or absolute form "http://host/p?q"; nullopt for anything else.
std::optional<target_parts> split_target(std::string_view target) noexcept;

class query_params {
 public:
  // Throws std::invalid_argument on a bad percent escape.
  static query_params parse(std::string_view query);

  // The value of `key`, or nullptr when absent.
  const std::string* find(std::string_view key) const noexcept;
  const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }
  bool empty() const noexcept { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace evald
