#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace evald {

// For JSON text whose strings carry bytes that are not UTF-8 (raw invalid bytes, or
// \uD800–\uDFFF escapes that are not a surrogate pair, as Python's json.dumps writes
// for undecodable bytes): the same text with each such byte or escape replaced by
// U+FFFD, or nothing when there was none. Bytes outside strings are left alone.
std::optional<std::string> replace_invalid_unicode_in_strings(std::string_view text);

}  // namespace evald
