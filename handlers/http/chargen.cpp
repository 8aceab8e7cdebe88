#include <memory>
#include <optional>

#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/kernels/chargen_pattern.hpp"
#include "server/http_error.hpp"
#include "server/preconditions.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {
namespace {

// Hands out views of the shared read-only pattern block: a chargen client costs
// this object (a few bytes), never a buffer of its own.
class chargen_stream final : public body_stream {
 public:
  chargen_stream(std::uint64_t total, metric_cell& sent, std::uint64_t start = 0)
      : position_(start), remaining_(total), sent_(sent) {}

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
  std::uint64_t position_;
  std::uint64_t remaining_;
  std::uint64_t last_size_ = 0;
  metric_cell& sent_;
};

// The Range to answer (RFC 9110 §14.2, §13.2.2 step 5), or nullopt for a 200:
// only GET has ranges, and an If-Range that does not name the current tag (or is a
// date: these answers have none) asks for the whole body.
std::optional<range_answer> requested_range(const request_context& ctx, std::string_view etag,
                                            std::uint64_t length) {
  if (ctx.req.method() != http::verb::get) {
    return std::nullopt;
  }
  const auto range = ctx.req.find(http::field::range);
  if (range == ctx.req.end()) {
    return std::nullopt;
  }
  if (const auto if_range = ctx.req.find(http::field::if_range); if_range != ctx.req.end()) {
    const std::string_view v(if_range->value().data(), if_range->value().size());
    if (!v.starts_with('"') || !etag_list_matches(v, etag, false)) {
      return std::nullopt;
    }
  }
  const auto answer =
      evaluate_range(std::string_view(range->value().data(), range->value().size()), length);
  if (answer.what == range_answer::ignore) {
    return std::nullopt;
  }
  return answer;
}

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
    mark_cacheable(ctx, res, "chargen " + std::to_string(bytes));
    res.add_header("Accept-Ranges", "bytes");
    auto& sent = ctx.owner.metrics().chargen_http_bytes;
    if (const auto range = requested_range(ctx, res.etag, bytes)) {
      if (range->what == range_answer::unsatisfiable) {
        set_error(res, http::status::range_not_satisfiable, "range_not_satisfiable",
                  "no requested range starts before the end (" + std::to_string(bytes) + " bytes)");
        res.add_header("Content-Range", "bytes */" + std::to_string(bytes));
        return;
      }
      const auto [first, last] = range->range;
      res.status = http::status::partial_content;
      res.add_header("Content-Range", "bytes " + std::to_string(first) + "-" +
                                          std::to_string(last) + "/" + std::to_string(bytes));
      res.stream = std::make_unique<chargen_stream>(last - first + 1, sent, first);
      res.stream_length = last - first + 1;
      return;
    }
    res.stream = std::make_unique<chargen_stream>(bytes, sent);
    res.stream_length = bytes;
  } else {
    // Chunked until the client closes or the configured cap is reached.
    res.stream = std::make_unique<chargen_stream>(cap, ctx.owner.metrics().chargen_http_bytes);
  }
}

}  // namespace evald::endpoints
