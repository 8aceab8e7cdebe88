#pragma once
#include <cstddef>
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
};

}  // namespace evald
