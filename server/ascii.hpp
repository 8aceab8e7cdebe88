#pragma once
#include <string_view>

namespace evald {

// ASCII case folding for protocol tokens (header values, schemes, media types):
// independent of the C locale, and reading only inside its inputs. Not
// beast::iequals: in Boost 1.83 it reads one byte past its inputs when they differ
// only in case (found by fuzz_query on "Http://").
constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// `lower` must already be lower case.
constexpr bool starts_with_ignoring_case(std::string_view s, std::string_view lower) noexcept {
  if (s.size() < lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < lower.size(); ++i) {
    if (ascii_lower(s[i]) != lower[i]) {
      return false;
    }
  }
  return true;
}

constexpr bool equals_ignoring_case(std::string_view s, std::string_view lower) noexcept {
  return s.size() == lower.size() && starts_with_ignoring_case(s, lower);
}

}  // namespace evald
