#include "handlers/json/unicode_repair.hpp"

#include <cstdint>

#include "server/ascii.hpp"
#include "server/utf8.hpp"

namespace evald {
namespace {

// The value of four hex digits at text[i..i+3], or -1.
int hex4(std::string_view text, std::size_t i) {
  if (i + 4 > text.size()) {
    return -1;
  }
  int v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = text[k];
    const int d = ascii_hex_value(c);
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
