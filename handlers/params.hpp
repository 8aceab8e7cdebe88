#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "server/query.hpp"

namespace evald {

// Decimal digits only (leading zeros allowed), 0..2^64-1; nullopt otherwise.
std::optional<std::uint64_t> parse_u64_decimal(std::string_view text) noexcept;

// Throws http_error 400 for a parameter not in `allowed` or given twice.
void check_query_params(const query_params& query, std::initializer_list<std::string_view> allowed);

// The parameter `n` as 0..2^64-1, or http_error 400 naming the problem.
std::uint64_t require_u64(const query_params& query, std::string_view name);

// Appends v as a JSON string ("123"): numbers travel as strings so no client loses
// precision above 2^53. Appending into the response's reused buffer allocates nothing.
void append_u64_json(std::string& out, std::uint64_t v);

}  // namespace evald
