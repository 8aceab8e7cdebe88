#include "config/units.hpp"

#include <charconv>
#include <stdexcept>

namespace evald::config {
namespace {

struct number_and_suffix {
  std::uint64_t value;
  std::string_view suffix;
};

number_and_suffix split_number(std::string_view text, const char* what) {
  std::uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ptr == first) {
    throw std::invalid_argument(std::string("expected a ") + what + " such as " +
                                (what[0] == 's' ? "\"8KiB\"" : "\"10s\"") + ", got \"" +
                                std::string(text) + "\"");
  }
  if (ec == std::errc::result_out_of_range) {
    throw std::invalid_argument("number too large in \"" + std::string(text) + "\"");
  }
  std::string_view suffix(ptr, static_cast<std::size_t>(last - ptr));
  while (!suffix.empty() && suffix.front() == ' ') {
    suffix.remove_prefix(1);
  }
  return {value, suffix};
}

std::uint64_t checked_multiply(std::uint64_t v, std::uint64_t m, std::string_view text) {
  if (m != 0 && v > UINT64_MAX / m) {
    throw std::invalid_argument("value too large in \"" + std::string(text) + "\"");
  }
  return v * m;
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  auto [value, suffix] = split_number(text, "size");
  std::uint64_t mult = 0;
  if (suffix.empty() || suffix == "B") {
    mult = 1;
  } else if (suffix == "KiB" || suffix == "K" || suffix == "k") {
    mult = 1ULL << 10;
  } else if (suffix == "MiB" || suffix == "M") {
    mult = 1ULL << 20;
  } else if (suffix == "GiB" || suffix == "G") {
    mult = 1ULL << 30;
  } else if (suffix == "TiB" || suffix == "T") {
    mult = 1ULL << 40;
  } else {
    throw std::invalid_argument("unknown size unit \"" + std::string(suffix) +
                                "\" (use B, KiB, MiB, GiB or TiB)");
  }
  return checked_multiply(value, mult, text);
}

std::chrono::microseconds parse_duration(std::string_view text) {
  auto [value, suffix] = split_number(text, "duration");
  std::uint64_t mult = 0;
  if (suffix == "us") {
    mult = 1;
  } else if (suffix == "ms") {
    mult = 1000;
  } else if (suffix == "s") {
    mult = 1000 * 1000;
  } else if (suffix == "m" || suffix == "min") {
    mult = 60ULL * 1000 * 1000;
  } else if (suffix == "h") {
    mult = 3600ULL * 1000 * 1000;
  } else if (suffix.empty()) {
    throw std::invalid_argument("duration \"" + std::string(text) +
                                "\" needs a unit (us, ms, s, m or h)");
  } else {
    throw std::invalid_argument("unknown duration unit \"" + std::string(suffix) +
                                "\" (use us, ms, s, m or h)");
  }
  const std::uint64_t us = checked_multiply(value, mult, text);
  if (us > static_cast<std::uint64_t>(INT64_MAX)) {
    throw std::invalid_argument("duration too large: \"" + std::string(text) + "\"");
  }
  return std::chrono::microseconds(static_cast<std::int64_t>(us));
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + units[u];
}

std::string format_duration(std::chrono::microseconds d) {
  const auto us = static_cast<std::uint64_t>(d.count());
  if (us % 1'000'000 == 0) {
    return std::to_string(us / 1'000'000) + "s";
  }
  if (us % 1000 == 0) {
    return std::to_string(us / 1000) + "ms";
  }
  return std::to_string(us) + "us";
}

}  // namespace evald::config
