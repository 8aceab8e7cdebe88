#include "server/preconditions.hpp"

#include <array>
#include <limits>

#include "server/ascii.hpp"

namespace evald {
namespace {

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view value_of(const http::request_header<>::value_type& f) noexcept {
  return {f.value().data(), f.value().size()};
}

}  // namespace

std::string strong_etag(std::string_view key) {
  // FNV-1a: the tag only has to change when the representation does.
  std::uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
  };
  mix(EVALD_VERSION);
  mix(std::string_view("\0", 1));
  mix(key);
  static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                               '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(18, '"');
  for (int i = 0; i < 16; ++i) {
    out[static_cast<std::size_t>(16 - i)] = hex[h & 0xf];
    h >>= 4;
  }
  return out;
}

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
  const bool current_weak = etag.starts_with("W/");
  if (etag.empty() || (current_weak && !weak)) {
    return false;
  }
  const std::string_view current = current_weak ? etag.substr(2) : etag;
  std::size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) {
      ++i;
    }
    if (i >= list.size()) {
      break;
    }
    bool is_weak = false;
    if (list.substr(i, 2) == "W/") {
      is_weak = true;
      i += 2;
    }
    if (i < list.size() && list[i] == '"') {
      const auto close = list.find('"', i + 1);
      if (close == std::string_view::npos) {
        return false;  // an unterminated tag ends the list
      }
      const std::string_view tag = list.substr(i, close - i + 1);
      if (tag == current && (weak || !is_weak)) {
        return true;
      }
      i = close + 1;
    } else {
      // Not an entity-tag: skip this element.
      const auto comma = list.find(',', i);
      i = comma == std::string_view::npos ? list.size() : comma;
    }
  }
  return false;
}

bool has_preconditions(const http::request_header<>& req) noexcept {
  for (const auto& f : req) {
    if (f.name() == http::field::if_match || f.name() == http::field::if_none_match) {
      return true;
    }
  }
  return false;
}

precondition evaluate_preconditions(const http::request_header<>& req, std::string_view etag,
                                    bool has_representation) {
  const bool safe = req.method() == http::verb::get || req.method() == http::verb::head;
  const auto matches = [&](http::field name, bool weak) -> std::optional<bool> {
    auto [it, end] = req.equal_range(name);
    if (it == end) {
      return std::nullopt;
    }
    for (; it != end; ++it) {
      const std::string_view v = trim_ows(value_of(*it));
      if (v == "*" ? has_representation : etag_list_matches(v, etag, weak)) {
        return true;
      }
    }
    return false;
  };
  // Step 1: If-Match (strong comparison).
  if (const auto m = matches(http::field::if_match, false); m && !*m) {
    return precondition::failed;
  }
  // Step 3: If-None-Match (weak comparison).
  if (const auto m = matches(http::field::if_none_match, true); m && *m) {
    return safe ? precondition::not_modified : precondition::failed;
  }
  return precondition::proceed;
}

range_answer evaluate_range(std::string_view value, std::uint64_t length) {
  value = trim_ows(value);
  const auto eq = value.find('=');
  if (eq == std::string_view::npos ||
      !equals_ignoring_case(trim_ows(value.substr(0, eq)), "bytes")) {
    return {};
  }
  constexpr std::size_t max_ranges = 100;
  std::string_view rest = value.substr(eq + 1);
  std::size_t count = 0;
  bool any = false;
  byte_range cover{std::numeric_limits<std::uint64_t>::max(), 0};
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view spec = trim_ows(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (spec.empty()) {
      continue;  // empty list elements are allowed (RFC 9110 §5.6.1.2)
    }
    if (++count > max_ranges) {
      return {};
    }
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
      return {};
    }
    byte_range r;
    if (dash == 0) {
      const auto suffix = parse_u64_decimal(spec.substr(1), on_overflow::saturate);
      if (!suffix) {
        return {};
      }
      if (*suffix == 0 || length == 0) {
        continue;  // unsatisfiable on its own
      }
      r = {length - std::min(*suffix, length), length - 1};
    } else {
      const auto first = parse_u64_decimal(spec.substr(0, dash), on_overflow::saturate);
      const std::string_view last_text = spec.substr(dash + 1);
      const auto last =
          last_text.empty()
              ? std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max())
              : parse_u64_decimal(last_text, on_overflow::saturate);
      if (!first || !last || *last < *first) {
        return {};  // invalid syntax: the whole field is ignored
      }
      if (*first >= length) {
        continue;
      }
      r = {*first, std::min(*last, length - 1)};
    }
    any = true;
    cover.first = std::min(cover.first, r.first);
    cover.last = std::max(cover.last, r.last);
  }
  if (count == 0) {
    return {};
  }
  if (!any) {
    return {range_answer::unsatisfiable, {}};
  }
  return {range_answer::partial, cover};
}

}  // namespace evald
