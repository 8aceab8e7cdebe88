#include "config/ip_literal.hpp"

#include <vector>

namespace evald::config {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(sep, start);
    parts.push_back(
        text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) {
      return parts;
    }
    start = at + 1;
  }
}

bool is_hex_group(std::string_view g) noexcept {
  if (g.empty() || g.size() > 4) {
    return false;
  }
  for (char c : g) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) {
      return false;
    }
  }
  return true;
}

// Counts the 16-bit groups of one side of "::"; -1 when malformed.
int count_groups(std::string_view side, bool last_side) {
  if (side.empty()) {
    return 0;
  }
  const auto groups = split(side, ':');
  int count = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const bool last = last_side && i + 1 == groups.size();
    if (last && groups[i].find('.') != std::string_view::npos) {
      if (!is_ipv4_literal(groups[i])) {
        return -1;
      }
      count += 2;
    } else if (is_hex_group(groups[i])) {
      count += 1;
    } else {
      return -1;
    }
  }
  return count;
}

}  // namespace

bool is_ipv4_literal(std::string_view text) noexcept {
  const auto parts = split(text, '.');
  if (parts.size() != 4) {
    return false;
  }
  for (auto p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p.front() == '0')) {
      return false;
    }
    int value = 0;
    for (char c : p) {
      if (c < '0' || c > '9') {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    if (value > 255) {
      return false;
    }
  }
  return true;
}

bool is_ipv6_literal(std::string_view text) noexcept {
  const auto gap = text.find("::");
  if (gap == std::string_view::npos) {
    return count_groups(text, true) == 8;
  }
  if (text.find("::", gap + 1) != std::string_view::npos) {
    return false;  // at most one "::"
  }
  const int head = count_groups(text.substr(0, gap), false);
  const int tail = count_groups(text.substr(gap + 2), true);
  return head >= 0 && tail >= 0 && head + tail <= 7;
}

}  // namespace evald::config
