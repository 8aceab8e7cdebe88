#include <memory>

#include "handlers/dashboard/dashboard_page.hpp"
#include "handlers/dashboard/stats_hub.hpp"
#include "handlers/http/endpoints.hpp"
#include "handlers/http/params.hpp"
#include "handlers/openapi/openapi_document.hpp"
#include "handlers/routes.hpp"
#include "server/http_error.hpp"
#include "server/preconditions.hpp"

namespace evald::endpoints {
namespace {

// One /stats/stream subscriber: each new snapshot, as the event the hub already
// framed (shared, not copied), then a wait until the next is due. A comment every
// 15 s keeps proxies from closing a stream whose sampler is late.
class stats_event_stream final : public body_stream {
 public:
  explicit stats_event_stream(stats_hub& hub) : hub_(hub) {}
  ~stats_event_stream() override { hub_.unsubscribe(); }
  stats_event_stream(const stats_event_stream&) = delete;
  stats_event_stream& operator=(const stats_event_stream&) = delete;

  std::optional<std::chrono::steady_clock::time_point> wait_until() override {
    if (offset_ < pending().size() || hub_.sequence() > sent_ || !said_hello_) {
      return std::nullopt;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_write_ >= std::chrono::seconds(15)) {
      return std::nullopt;  // a keep-alive comment
    }
    // Just after the snapshot is due; never a busy loop when it is late.
    return std::max(hub_.next_due() + std::chrono::milliseconds(5),
                    now + std::chrono::milliseconds(100));
  }

  std::string_view next(std::size_t max_bytes) override {
    last_write_ = std::chrono::steady_clock::now();
    if (!said_hello_) {
      said_hello_ = true;
      return "retry: 2000\n\n";  // how soon a browser reconnects
    }
    if (offset_ >= pending().size()) {
      const auto e = hub_.latest();
      offset_ = 0;
      if (e.sequence > sent_ && e.frame) {
        sent_ = e.sequence;
        holding_ = e.frame;
      } else {
        holding_.reset();
        return ": keep-alive\n\n";
      }
    }
    const std::string_view rest = pending().substr(offset_, max_bytes);
    offset_ += rest.size();
    return rest;
  }

 private:
  std::string_view pending() const { return holding_ ? std::string_view(*holding_) : ""; }

  stats_hub& hub_;
  std::uint64_t sent_ = 0;
  std::shared_ptr<const std::string> holding_;
  std::size_t offset_ = 0;
  bool said_hello_ = false;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

}  // namespace

void dashboard_page(request_context& ctx, response& res, stats_hub&) {
  check_query_params(ctx.query, {});
  res.content_type = "text/html; charset=utf-8";
  // Self-contained: no request leaves this origin (the policy makes sure of it).
  res.add_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                 "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
  res.add_header("X-Content-Type-Options", "nosniff");
  res.add_header("Cache-Control", "no-cache");
  res.body.assign(dashboard_page_html());
}

void openapi(request_context& ctx, response& res) {
  check_query_params(ctx.query, {});
  static const std::string tag = strong_etag(openapi_document());  // hashed once
  res.etag = tag;
  res.cache_control = ctx.settings.http.cache_control;
  res.body.assign(openapi_document());
}

void stats(request_context& ctx, response& res, stats_hub& hub) {
  check_query_params(ctx.query, {});
  res.add_header("Cache-Control", "no-store");
  res.body = hub.document();
}

void stats_stream(request_context& ctx, response& res, stats_hub& hub) {
  check_query_params(ctx.query, {});
  if (!hub.try_subscribe()) {
    http_error e(http::status::service_unavailable, "too_many_streams",
                 "dashboard.max_streams event streams are open; retry later");
    e.retry_after = "5";
    throw e;
  }
  res.content_type = "text/event-stream";
  res.add_header("Cache-Control", "no-store");
  res.add_header("X-Accel-Buffering", "no");  // nginx: pass events through at once
  res.stream = std::make_unique<stats_event_stream>(hub);
}

}  // namespace evald::endpoints
