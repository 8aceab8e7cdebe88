#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/net.hpp"

namespace evald {

// Conditional requests (RFC 9110 §13) and byte ranges (§14). Pure; any thread.

// A strong entity tag ("\"<16 hex digits>\"") for a representation that is a pure
// function of `key` and of this evald version (a new version may format answers
// differently, so it must not validate an old cached copy).
std::string strong_etag(std::string_view key);

enum class precondition { proceed, not_modified, failed };

// Steps 1–4 of RFC 9110 §13.2.2 for a request whose answer without conditions
// would be 2xx. `etag` is the selected representation's strong tag ("" = none);
// `has_representation` says whether the target resource has a current one (what
// "*" matches). If-Unmodified-Since and If-Modified-Since are ignored: evald's
// representations have no modification date (§13.1.3, §13.1.4).
// not_modified is only returned for GET and HEAD; other methods get failed (412).
precondition evaluate_preconditions(const http::request_header<>& req, std::string_view etag,
                                    bool has_representation);

// Whether the request carries If-Match or If-None-Match (one pass over the fields).
bool has_preconditions(const http::request_header<>& req) noexcept;

// Whether one If-Match / If-None-Match / If-Range value lists `etag`: strong
// comparison (If-Match, If-Range) or weak (If-None-Match). "*" is not handled here.
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

// The answer to a Range header for a representation of `length` bytes.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
struct range_answer {
  enum kind { ignore, unsatisfiable, partial } what = ignore;
  byte_range range;  // partial: the one range sent (several are coalesced into one)
};
// `value` is the Range field value ("bytes=0-99", "bytes=-5", "bytes=1-2,8-9").
// Syntax evald does not understand, or another unit, is ignored (a 200), as §14.2
// allows; several ranges are answered as the one range that covers them all.
range_answer evaluate_range(std::string_view value, std::uint64_t length);

}  // namespace evald
