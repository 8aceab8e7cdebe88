#include "server/json_text.hpp"

#include <algorithm>
#include <cstdint>

namespace evald {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence starting at s[i] (2–4), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
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

}  // namespace

void append_json_string(std::string& out, std::string_view bytes) {
  out.push_back('"');
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<std::uint8_t>(bytes[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(bytes, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for one invalid byte
        ++i;
      } else {
        out.append(bytes.substr(i, n));
        i += n;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("\\u00");
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  out.push_back('"');
}

void append_escaped_text(std::string& out, std::string_view bytes) {
  for (const char ch : bytes) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7F) {
      out.append("\\x");
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
}

namespace {

// The value of four hex digits at text[i..i+3], or -1.
int hex4(std::string_view text, std::size_t i) {
  if (i + 4 > text.size()) {
    return -1;
  }
  int v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = text[k];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

std::optional<std::string> replace_invalid_unicode_in_strings(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool changed = false;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<std::uint8_t>(text[i]);
    if (!in_string) {
      in_string = c == '"';
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out.push_back('"');
      ++i;
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == 'u') {
      const int unit = hex4(text, i + 2);
      if (unit >= 0xD800 && unit <= 0xDBFF && i + 12 <= text.size() && text[i + 6] == '\\' &&
          text[i + 7] == 'u' && hex4(text, i + 8) >= 0xDC00 && hex4(text, i + 8) <= 0xDFFF) {
        out.append(text.substr(i, 12));  // a surrogate pair
        i += 12;
      } else if (unit >= 0xD800 && unit <= 0xDFFF) {
        out.append("\\ufffd");
        changed = true;
        i += 6;
      } else {
        out.append(text.substr(i, 2));
        i += 2;
      }
    } else if (c == '\\') {
      out.append(text.substr(i, std::min<std::size_t>(2, text.size() - i)));
      i += 2;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_sequence(text, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");
        changed = true;
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
    } else {
      out.push_back(static_cast<char>(c));
      ++i;
    }
  }
  if (!changed) {
    return std::nullopt;
  }
  return out;
}

}  // namespace evald
