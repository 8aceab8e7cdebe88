#include "server/http_date.hpp"

#include "server/platform.hpp"

#include <cstring>

namespace evald {

std::string_view format_http_date(std::time_t t, char* buf) noexcept {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::tm tm = platform::utc_time(t);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const int year = tm.tm_year + 1900;
  std::memcpy(buf, days[tm.tm_wday], 3);
  std::memcpy(buf + 3, ", ", 2);
  two(buf + 5, tm.tm_mday);
  buf[7] = ' ';
  std::memcpy(buf + 8, months[tm.tm_mon], 3);
  buf[11] = ' ';
  two(buf + 12, year / 100);
  two(buf + 14, year % 100);
  buf[16] = ' ';
  two(buf + 17, tm.tm_hour);
  buf[19] = ':';
  two(buf + 20, tm.tm_min);
  buf[22] = ':';
  two(buf + 23, tm.tm_sec);
  std::memcpy(buf + 25, " GMT", 4);
  return {buf, 29};
}

std::string_view http_date_now() noexcept {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[32];
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    format_http_date(now, cached);
    cached_second = now;
  }
  return {cached, 29};
}

}  // namespace evald
