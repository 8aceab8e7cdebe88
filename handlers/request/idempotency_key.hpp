#pragma once
#include <string>
#include <string_view>

namespace evald {

// The longest Idempotency-Key accepted (a UUID is 36; the draft sets no bound).
inline constexpr std::size_t max_idempotency_key = 255;

// An Idempotency-Key header's value (draft-ietf-httpapi-idempotency-key-header: a
// structured-field String, "…"; a bare token is taken as well, as most clients send
// one): the key, or http_error 400 naming what is wrong with it.
std::string parse_idempotency_key(std::string_view value);

}  // namespace evald
