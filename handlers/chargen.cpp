#include <memory>

#include "handlers/endpoints.hpp"
#include "handlers/kernels/chargen_pattern.hpp"
#include "handlers/params.hpp"
#include "server/http_error.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {
namespace {

// Hands out views of the shared read-only pattern block: a chargen client costs
// this object (a few bytes), never a buffer of its own.
class chargen_stream final : public body_stream {
 public:
  chargen_stream(std::uint64_t total, metric_cell& sent) : remaining_(total), sent_(sent) {}

  std::string_view next(std::size_t max_bytes) override {
    // Asked for more only once the previous window was written: count that one.
    sent_.add(last_size_);
    const std::uint64_t n =
        std::min<std::uint64_t>({remaining_, max_bytes, kernels::chargen_max_window});
    const std::string_view window = kernels::chargen_window(position_, static_cast<std::size_t>(n));
    position_ += n;
    remaining_ -= n;
    last_size_ = n;
    return window;
  }

 private:
  std::uint64_t position_ = 0;
  std::uint64_t remaining_;
  std::uint64_t last_size_ = 0;
  metric_cell& sent_;
};

}  // namespace

void chargen(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"bytes"});
  const std::uint64_t cap = ctx.settings.chargen.max_bytes;
  res.content_type = "text/plain; charset=us-ascii";
  if (ctx.query.find("bytes") != nullptr) {
    const std::uint64_t bytes = require_u64(ctx.query, "bytes");
    if (bytes > cap) {
      throw bad_request("bytes must be at most " + std::to_string(cap) + " (chargen.max_bytes)");
    }
    res.stream = std::make_unique<chargen_stream>(bytes, ctx.owner.metrics().chargen_http_bytes);
    res.stream_length = bytes;
  } else {
    // Chunked until the client closes or the configured cap is reached.
    res.stream = std::make_unique<chargen_stream>(cap, ctx.owner.metrics().chargen_http_bytes);
  }
}

}  // namespace evald::endpoints
