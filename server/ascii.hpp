#pragma once
#include <cstdint>
#include <limits>
#include <optional>
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

// The value of one hex digit (either case), or -1.
constexpr int ascii_hex_value(char c) noexcept {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

// What a decimal number past 2^64-1 becomes: no number (a client's value, e.g. n), or
// the largest one (a byte position in a Range header).
enum class on_overflow : bool { reject, saturate };

// Decimal digits only (leading zeros allowed), 0..2^64-1; nullopt for anything else.
constexpr std::optional<std::uint64_t> parse_u64_decimal(
    std::string_view text, on_overflow overflow = on_overflow::reject) noexcept {
  if (text.empty()) {
    return std::nullopt;
  }
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) {
      if (overflow == on_overflow::reject) {
        return std::nullopt;
      }
      value = max;
      continue;
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace evald
