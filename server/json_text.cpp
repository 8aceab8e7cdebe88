#include "server/json_text.hpp"

#include "server/utf8.hpp"

#include <algorithm>
#include <cstdint>

namespace evald {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

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

}  // namespace evald
