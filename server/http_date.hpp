#pragma once
#include <ctime>
#include <string_view>

namespace evald {

// IMF-fixdate for the Date header ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted at
// most once per second per thread. Any thread may call it.
std::string_view http_date_now() noexcept;

// Formats t into buf (at least 29 bytes); returns the view of buf.
std::string_view format_http_date(std::time_t t, char* buf) noexcept;

}  // namespace evald
