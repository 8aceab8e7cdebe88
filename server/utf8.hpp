#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace evald {

// Length of the well-formed UTF-8 sequence starting at s[i] (2–4), or 0.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  const std::size_t left = s.size() - i;
  auto continuation = [&](std::size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    return left >= 2 && continuation(i + 1) ? 2 : 0;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3 || !continuation(i + 1) || !continuation(i + 2)) {
      return 0;
    }
    const std::uint8_t b1 = byte(i + 1);
    if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 > 0x9F)) {
      return 0;  // overlong, or a UTF-16 surrogate
    }
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4 || !continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3)) {
      return 0;
    }
    const std::uint8_t b1 = byte(i + 1);
    if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 > 0x8F)) {
      return 0;  // overlong, or past U+10FFFF
    }
    return 4;
  }
  return 0;
}

}  // namespace evald
