#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace evald {

// Decimal digits only (leading zeros allowed), 0..2^64-1; nullopt otherwise (an
// overflow too: never saturated).
std::optional<std::uint64_t> parse_u64_decimal(std::string_view text) noexcept;

}  // namespace evald
