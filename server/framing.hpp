#pragma once
#include <optional>
#include <string>

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

}  // namespace evald
