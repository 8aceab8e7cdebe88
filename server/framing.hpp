#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/net.hpp"

namespace evald {

struct framing_problem {
  http::status status;
  std::string message;
};

// RFC 9112 §3.2, §6.1 and §6.3 checks that Beast 1.83's parser leaves to us, run
// once the header is complete and before any body byte is read: a request that
// fails them has uncertain framing, so the connection must close after the reply.
// Pure; any thread.
std::optional<framing_problem> check_request_framing(const http::request_header<>& header);

// RFC 9112 §3: `line` is one complete request line up to and including its LF.
// Exactly "method SP request-target SP HTTP/DIGIT.DIGIT CRLF": anything else
// (a missing or truncated version, extra spaces, a tab, a bare LF) is a 400, and a
// well-formed version other than 1.x a 505. Run before Beast sees the bytes, whose
// parser waits for eight version bytes and so never answers "GET / \r\n\r\n".
// Pure; any thread.
std::optional<framing_problem> check_request_line(std::string_view line);

// The request line is longer than the header limit (`seen` holds no LF): 501 when
// the first token is still a method being read (an unknown over-long method),
// otherwise 414. Pure; any thread.
framing_problem overlong_request_line(std::string_view seen, std::uint64_t limit);

}  // namespace evald
