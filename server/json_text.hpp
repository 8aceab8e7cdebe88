#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace evald {

// Appends `bytes` as a JSON string literal (with quotes). The bytes are untrusted
// (request targets, header values): quotes, backslashes and control characters
// are escaped, and every byte that is not part of well-formed UTF-8 (RFC 3629:
// no overlongs, no surrogates, nothing past U+10FFFF) becomes U+FFFD, so the
// result is always valid JSON in valid UTF-8.
void append_json_string(std::string& out, std::string_view bytes);

// For text logs: printable ASCII stays, '"' and '\' are backslash-escaped, every
// other byte becomes \xHH, so one request is always one line.
void append_escaped_text(std::string& out, std::string_view bytes);

}  // namespace evald
