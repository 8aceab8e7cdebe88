#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace evald {

// A response body pulled by the session one buffer at a time: the next buffer is
// asked for only after the previous one was written, so a slow reader holds back
// production instead of growing memory (back-pressure by construction).
class body_stream {
 public:
  virtual ~body_stream() = default;
  // The next bytes (at most max_bytes), valid until the next call; empty = end.
  virtual std::string_view next(std::size_t max_bytes) = 0;
  // A stream whose bytes come over time (server-sent events): the time to wait
  // until before asking next() again, or nullopt when bytes are ready now. The
  // session waits without holding anything else up; a drain ends the wait (and
  // the stream, at a chunk boundary).
  virtual std::optional<std::chrono::steady_clock::time_point> wait_until() { return std::nullopt; }
};

}  // namespace evald
