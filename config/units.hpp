#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace evald::config {

// "8KiB", "1MiB", "2GiB", "512B", "1500" (bytes), also "1K"/"1M"/"1G" as binary units.
// Throws std::invalid_argument with a reason on anything else.
std::uint64_t parse_size(std::string_view text);

// "10s", "250ms", "500us", "2m", "1h". Throws std::invalid_argument.
std::chrono::microseconds parse_duration(std::string_view text);

std::string format_size(std::uint64_t bytes);
std::string format_duration(std::chrono::microseconds d);

}  // namespace evald::config
