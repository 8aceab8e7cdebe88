#pragma once
#include <string_view>

namespace evald::config {

// Textual IP address checks, in plain C++ (no OS headers, same on every platform).
// Dotted quad without leading zeros: "127.0.0.1".
bool is_ipv4_literal(std::string_view text) noexcept;
// RFC 4291 §2.2 text form, "::" compression and a trailing dotted quad included;
// zone ids ("%eth0") are not accepted.
bool is_ipv6_literal(std::string_view text) noexcept;

}  // namespace evald::config
