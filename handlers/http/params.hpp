#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "server/query.hpp"

namespace evald {

// Throws http_error 400 for a parameter not in `allowed` or given twice.
void check_query_params(const query_params& query, std::initializer_list<std::string_view> allowed);

// The parameter `n` as 0..2^64-1, or http_error 400 naming the problem.
std::uint64_t require_u64(const query_params& query, std::string_view name);

// `timeout_ms` from the query (1..2^64-1), validated; nullopt when absent.
std::optional<std::uint64_t> timeout_param(const query_params& query);

}  // namespace evald
