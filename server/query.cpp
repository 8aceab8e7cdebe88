#include "server/query.hpp"

#include <stdexcept>

#include "server/ascii.hpp"

namespace evald {

namespace {

std::string decode_component(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        throw std::invalid_argument("truncated percent escape in query");
      }
      const int hi = ascii_hex_value(in[i + 1]);
      const int lo = ascii_hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) {
        throw std::invalid_argument("bad percent escape in query");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

bool valid_target_chars(std::string_view target) noexcept {
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return false;
    }
  }
  return true;
}

bool has_userinfo(std::string_view target) noexcept {
  std::size_t skip = 0;
  if (starts_with_ignoring_case(target, "http://")) {
    skip = 7;
  } else if (starts_with_ignoring_case(target, "https://")) {
    skip = 8;
  } else {
    return false;
  }
  const auto authority_end = target.find_first_of("/?#", skip);
  return target.substr(skip, authority_end - skip).find('@') != std::string_view::npos;
}

std::optional<target_parts> split_target(std::string_view target) noexcept {
  if (target.empty()) {
    return std::nullopt;
  }
  if (target.front() != '/') {
    // Absolute form (RFC 9112 §3.2.2): a server must accept it; the authority is ignored.
    std::size_t skip = 0;
    if (starts_with_ignoring_case(target, "http://")) {
      skip = 7;
    } else if (starts_with_ignoring_case(target, "https://")) {
      skip = 8;
    } else {
      return std::nullopt;
    }
    const auto slash = target.find_first_of("/?", skip);
    if (slash == skip) {
      return std::nullopt;  // empty authority
    }
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    if (target.front() == '?') {
      return target_parts{"/", target.substr(1)};
    }
  }
  const auto q = target.find('?');
  if (q == std::string_view::npos) {
    return target_parts{target, {}};
  }
  return target_parts{target.substr(0, q), target.substr(q + 1)};
}

query_params query_params::parse(std::string_view query) {
  query_params out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.items_.emplace_back(decode_component(pair), std::string{});
    } else {
      out.items_.emplace_back(decode_component(pair.substr(0, eq)),
                              decode_component(pair.substr(eq + 1)));
    }
  }
  return out;
}

const std::string* query_params::find(std::string_view key) const noexcept {
  for (const auto& [k, v] : items_) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

}  // namespace evald
