#include "server/session.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <optional>

#include "server/ascii.hpp"
#include "server/connection.hpp"
#include "server/framing.hpp"
#include "server/http_error.hpp"
#include "server/logging.hpp"
#include "server/platform.hpp"
#include "server/preconditions.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

constexpr std::size_t read_chunk = 4096;
// Pipelined responses are sent together up to this much; past it we flush early.
constexpr std::size_t flush_threshold = 64 * 1024;
constexpr std::size_t stream_chunk = 64 * 1024;
constexpr std::chrono::milliseconds linger_timeout{2000};

enum class read_result { ok, closed, timed_out };

std::string_view error_code_for(http::status status) {
  switch (status) {
    case http::status::not_implemented:
      return "not_implemented";
    case http::status::http_version_not_supported:
      return "http_version_not_supported";
    case http::status::uri_too_long:
      return "uri_too_long";
    default:
      return "bad_request";
  }
}

class http_connection final : public connection, public client_watch {
 public:
  http_connection(tcp::socket socket, worker& owner, const http_shared& shared,
                  std::shared_ptr<tls_context> tls, scope_set certificate_scopes)
      : connection(std::move(socket), owner, true),
        shared_(shared),
        tls_context_(std::move(tls)),
        certificate_scopes_(certificate_scopes),
        watch_done_(socket_.get_executor(), steady_clock::time_point::max()) {}

  // Read head -> read body -> respond -> write, per request, until the connection
  // ends; one exit.
  net::awaitable<void> run();

  void on_client_gone(std::function<void()> on_gone) override;
  void on_forced() noexcept override {
    // The shutdown timeout is the end for a running evaluation too.
    client_gone_ = true;
    if (on_gone_) {
      on_gone_();
    }
    stop_stream_wait();
  }
  void on_drain() noexcept override {
    connection::on_drain();
    stop_stream_wait();  // an event stream ends at the drain instead of delaying it
  }
  bool client_gone() const noexcept override { return client_gone_; }

 private:
  // How a step leaves the connection: serve the next request, close without a word
  // (idle timeout, drained, client gone), send what is queued and close (an error
  // reply, Connection: close), or nothing more (a write failed).
  enum class connection_end { keep_going, close_quietly, send_and_close, gone };
  net::awaitable<connection_end> read_head(std::uint32_t served);
  net::awaitable<connection_end> read_body();
  // Runs the handler into res_; whether the connection closes after this answer.
  net::awaitable<bool> respond(std::uint32_t served);
  net::awaitable<connection_end> write_response(bool close);
  // Queues an error reply; the connection then closes.
  connection_end fail(http::status status, std::string_view code, std::string_view message);
  connection_end fail(const error_code& ec);  // a parse error from Beast
  void start_watch();
  net::awaitable<void> stop_watch();
  net::awaitable<read_result> read_more(wait_phase phase, steady_clock::time_point deadline);
  net::awaitable<bool> flush();
  net::awaitable<bool> write_stream(bool& close);
  // A TLS listener's connection: the handshake (true), or false after counting why
  // not (a plain HTTP request is answered 400 first: send_and_close).
  net::awaitable<bool> start_tls(bool& answer_plain);
  // Runs `op` on the byte stream the client talks to: the TLS stream once the
  // handshake is done, else the socket (both give the same completion types).
  template <class Op>
  decltype(auto) on_stream(Op&& op) {
#if EVALD_HAS_TLS
    if (tls_) {
      return op(*tls_);
    }
#endif
    return op(socket_);
  }
  void stop_stream_wait() noexcept {
    if (stream_wait_) {
      stream_wait_->cancel();
    }
  }
  // Queues a final JSON error response (Connection: close).
  void queue_error(http::status status, std::string_view code, std::string_view message);
  // Before the body of a request to a route that needs a key: the 401/403 now (no
  // body is read, no 100 Continue sent), and the connection closes after it.
  bool refused_before_body();
  // Sends what is queued, then FIN and a bounded linger, then close.
  net::awaitable<void> finish_and_close();
  // The handler for this request, or nullptr with res_ already filled (400/404/405…).
  // A plain function: sync handlers such as /healthz run without a coroutine frame.
  const handler* route(const request& req, std::string_view& path);
  void parse_error_reply(const error_code& ec, http::status& status, std::string& code,
                         std::string& message) const;
  // Queues the access-log line of the request just answered (access log on only).
  void log_access(unsigned status, std::uint64_t bytes, std::chrono::nanoseconds cpu);
  // Whether the buffered request line names an HTTP/1.x version.
  bool requests_http1() const;
  std::string_view buffered() const {
    const auto data = in_.data();
    return {static_cast<const char*>(data.data()), data.size()};
  }

  const http_shared& shared_;
  std::shared_ptr<tls_context> tls_context_;  // a TLS listener's, held until the close
  scope_set certificate_scopes_ = 0;
  // The tenant the client certificate names, for requests without an API key.
  std::shared_ptr<const caller> certified_;
#if EVALD_HAS_TLS
  std::optional<tls_stream> tls_;  // after the handshake
#endif
  beast::flat_buffer in_;
  std::string out_;
  std::optional<request_parser> parser_;
  response res_;
  query_params query_;                            // of the request being handled
  steady_clock::time_point request_start_{};      // its first byte
  std::size_t route_index_ = 0;                   // its route, for metrics
  std::chrono::nanoseconds request_cpu_{0};       // its CPU, for the access log
  std::shared_ptr<const caller> caller_;          // who sent it (routes needing a scope)
  std::uint64_t streamed_ = 0;                    // body bytes of a streamed response sent
  std::optional<net::steady_timer> stream_wait_;  // a stream waiting for its next bytes
  std::string remote_;                            // "address:port", once the access log needs it
  std::string log_line_;
  // Disconnect watch while an async handler runs.
  net::steady_timer watch_done_;
  std::function<void()> on_gone_;
  bool watching_ = false;
  bool client_gone_ = false;
};

void http_connection::on_client_gone(std::function<void()> on_gone) {
  on_gone_ = std::move(on_gone);
  if (client_gone_) {
    on_gone_();
    return;
  }
  start_watch();
}

void http_connection::start_watch() {
  // With bytes of a pipelined request already buffered, the next read would take
  // more of them, not tell us about the client; skip the watch then.
  if (watching_ || in_.size() != 0 || !socket_.is_open()) {
    return;
  }
  watching_ = true;
  on_stream([this](auto& stream) {
    stream.async_read_some(in_.prepare(read_chunk), [this](const error_code& ec, std::size_t n) {
      watching_ = false;
      if (!ec) {
        in_.commit(n);  // the client's next request: kept for the main loop
      } else if (ec != net::error::operation_aborted) {
        client_gone_ = true;
        if (on_gone_) {
          on_gone_();
        }
      }
      watch_done_.cancel();
    });
  });
}

net::awaitable<void> http_connection::stop_watch() {
  on_gone_ = nullptr;
  if (watching_) {
    error_code ec;
    socket_.cancel(ec);
    watch_done_.expires_at(steady_clock::time_point::max());
    co_await watch_done_.async_wait(use_tuple);
  }
}

net::awaitable<read_result> http_connection::read_more(wait_phase phase,
                                                       steady_clock::time_point deadline) {
  for (;;) {
    wait_for(phase, deadline);
    auto [ec, n] = co_await on_stream([this](auto& stream) {
      return stream.async_read_some(in_.prepare(read_chunk), use_tuple);
    });
    stop_waiting();
    if (!ec) {
      in_.commit(n);
      co_return read_result::ok;
    }
    if (timed_out()) {
      co_return read_result::timed_out;
    }
    // A drain cancels idle reads; bytes that already arrived are still a request
    // the client sent before it could know, so serve it rather than drop it.
    if (ec == net::error::operation_aborted && drain_cancelled() && !forced() &&
        has_pending_input()) {
      continue;
    }
    co_return read_result::closed;
  }
}

net::awaitable<bool> http_connection::flush() {
  if (out_.empty()) {
    co_return true;
  }
  wait_for(wait_phase::write, steady_clock::now() + shared_.settings.timeouts.write_stall);
  auto [ec, n] = co_await on_stream(
      [this](auto& stream) { return net::async_write(stream, net::buffer(out_), use_tuple); });
  stop_waiting();
  out_.clear();
  if (ec) {
    // After a failed write the peer's view of the stream is unknown: close.
    if (timed_out()) {
      spdlog::debug("write stalled for {} ms; dropping the connection",
                    shared_.settings.timeouts.write_stall.count());
    }
    close_after_failed_write();
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> http_connection::write_stream(bool& close) {
  const bool chunked = !res_.stream_length.has_value();
  std::array<char, 24> chunk_head{};
  static constexpr std::string_view crlf = "\r\n";
  static constexpr std::string_view last_chunk = "0\r\n\r\n";
  for (;;) {
    if (chunked && owner().draining()) {
      // End a chunked stream cleanly at a chunk boundary, then close.
      close = true;
      out_.append(last_chunk);
      const bool sent = co_await flush();
      co_return sent;
    }
    if (const auto when = res_.stream->wait_until()) {
      stream_wait_.emplace(socket_.get_executor(), *when);
      co_await stream_wait_->async_wait(use_tuple);
      stream_wait_.reset();
      if (forced()) {
        co_return false;
      }
      continue;  // draining? ready now?
    }
    const std::string_view data = res_.stream->next(stream_chunk);
    if (data.empty()) {
      if (chunked) {
        out_.append(last_chunk);
        const bool sent = co_await flush();
        co_return sent;
      }
      co_return true;
    }
    wait_for(wait_phase::write, steady_clock::now() + shared_.settings.timeouts.write_stall);
    error_code ec;
    if (chunked) {
      char* end = std::to_chars(chunk_head.data(), chunk_head.data() + 20, data.size(), 16).ptr;
      *end++ = '\r';
      *end++ = '\n';
      const std::array<net::const_buffer, 3> bufs = {
          net::buffer(chunk_head.data(), static_cast<std::size_t>(end - chunk_head.data())),
          net::buffer(data.data(), data.size()), net::buffer(crlf.data(), crlf.size())};
      auto [write_ec, n] = co_await on_stream(
          [&bufs](auto& stream) { return net::async_write(stream, bufs, use_tuple); });
      ec = write_ec;
      streamed_ += write_ec ? 0 : data.size();
    } else {
      auto [write_ec, n] = co_await on_stream([&data](auto& stream) {
        return net::async_write(stream, net::buffer(data.data(), data.size()), use_tuple);
      });
      ec = write_ec;
      streamed_ += n;
    }
    stop_waiting();
    if (ec) {
      close_after_failed_write();
      co_return false;
    }
  }
}

void http_connection::queue_error(http::status status, std::string_view code,
                                  std::string_view message) {
  // Errors before routing: the request never reached a route.
  owner().metrics().observe_request(0, static_cast<unsigned>(status),
                                    steady_clock::now() - request_start_);
  res_.reset();
  caller_.reset();
  set_error(res_, status, code, message);
  append_head(out_, res_, true, false);
  out_.append(res_.body);
  if (shared_.access != access_format::off) {
    log_access(static_cast<unsigned>(status), res_.body.size(), std::chrono::nanoseconds(0));
  }
}

void http_connection::log_access(unsigned status, std::uint64_t bytes,
                                 std::chrono::nanoseconds cpu) {
  if (remote_.empty()) {
    error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    remote_ = ec ? "-"
                 : (ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                         : ep.address().to_string()) +
                       ":" + std::to_string(ep.port());
  }
  access_entry e;
  e.time = std::chrono::system_clock::now();
  e.remote = remote_;
  e.method = "-";
  e.target = "-";
  // Before the headers are complete (408, 431, 400) only the status is known.
  if (parser_ && parser_->is_header_done()) {
    const auto& req = parser_->get();
    e.method = std::string_view(req.method_string().data(), req.method_string().size());
    e.target = std::string_view(req.target().data(), req.target().size());
    e.version = req.version() == 10 ? 10 : 11;
  }
  e.status = status;
  e.bytes = bytes;
  e.wall_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - request_start_)
          .count());
  e.cpu_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(cpu).count());
  e.worker = owner().index();
  e.sequence = owner().next_request_sequence();
  if (caller_) {
    e.tenant = caller_->tenant;
    e.key_id = caller_->key_id;
  }
  log_line_.clear();
  format_access_entry(log_line_, shared_.access, e);
  write_access_line(log_line_);
}

// GCC 12 miscompiles co_await inside conditions and around temporaries in some
// shapes (a trap on resume); every co_await here is a plain statement.
net::awaitable<void> http_connection::finish_and_close() {
  const bool sent = co_await flush();
  if (!sent) {
    co_return;
  }
#if EVALD_HAS_TLS
  if (tls_) {
    // close_notify, so the client can tell our end from a truncation. Asio's
    // async_shutdown then waits for the client's own close_notify, which some never
    // send: the linger deadline bounds it.
    wait_for(wait_phase::linger, steady_clock::now() + linger_timeout);
    co_await tls_->async_shutdown(use_tuple);
    stop_waiting();
  }
#endif
  co_await linger_close(linger_timeout);
}

net::awaitable<bool> http_connection::start_tls(bool& answer_plain) {
#if EVALD_HAS_TLS
  auto& metrics = owner().metrics();
  const auto deadline = steady_clock::now() + shared_.settings.timeouts.handshake;
  // The first bytes tell a TLS record (0x16, a handshake) from an HTTP request line.
  wait_for(wait_phase::handshake, deadline);
  auto [ec, n] = co_await socket_.async_read_some(in_.prepare(read_chunk), use_tuple);
  stop_waiting();
  if (ec) {
    metrics.count(timed_out() ? tls_outcome::timeout : tls_outcome::closed);
    co_return false;
  }
  in_.commit(n);
  const auto first = static_cast<unsigned char>(buffered().front());
  if (first != 0x16) {
    if (first >= 'A' && first <= 'Z') {
      // As nginx does: a readable answer in clear text for the one client that can
      // read it (a plain HTTP client), then the close.
      metrics.count(tls_outcome::plain_http);
      request_start_ = steady_clock::now();
      queue_error(http::status::bad_request, "plain_http_to_tls_port",
                  "this port speaks TLS: send the request with https://");
      answer_plain = true;
    } else {
      metrics.count(tls_outcome::not_tls);
    }
    co_return false;
  }
  tls_.emplace(socket_, *tls_context_);
  wait_for(wait_phase::handshake, deadline);
  auto [handshake_ec, used] =
      co_await tls_->async_handshake(net::ssl::stream_base::server, in_.data(), use_tuple);
  stop_waiting();
  in_.consume(in_.size());
  if (handshake_ec) {
    const bool gone = handshake_ec == net::error::eof ||
                      handshake_ec == net::error::connection_reset ||
                      handshake_ec == net::ssl::error::stream_truncated;
    metrics.count(timed_out() ? tls_outcome::timeout
                  : gone      ? tls_outcome::closed
                              : tls_outcome::failed);
    spdlog::debug("TLS handshake failed: {}", handshake_ec.message());
    tls_.reset();
    co_return false;
  }
  metrics.count(SSL_session_reused(tls_->native_handle()) == 1 ? tls_outcome::resumed
                                                               : tls_outcome::full);
  if (certificate_scopes_ != 0 && shared_.auth != nullptr) {
    if (const std::string tenant = certificate_tenant(*tls_); !tenant.empty()) {
      certified_ = shared_.auth->certificate_caller(tenant, certificate_scopes_);
    }
  }
  co_return true;
#else
  answer_plain = false;
  co_return false;
#endif
}

bool http_connection::requests_http1() const {
  const auto data = in_.data();
  const std::string_view seen(static_cast<const char*>(data.data()), data.size());
  const auto line_end = seen.find('\n');
  const std::string_view line = seen.substr(0, line_end);
  const auto at = line.rfind(" HTTP/");
  return at == std::string_view::npos || line.substr(at + 6, 1) == "1";
}

void http_connection::parse_error_reply(const error_code& ec, http::status& status,
                                        std::string& code, std::string& message) const {
  if (ec == http::error::header_limit) {
    // No line end within the limit: the request line alone is too long.
    const auto data = in_.data();
    const std::string_view seen(static_cast<const char*>(data.data()), data.size());
    if (seen.find('\n') == std::string_view::npos) {
      status = http::status::uri_too_long;
      code = "uri_too_long";
      message = "request line longer than " +
                std::to_string(shared_.settings.limits.max_header_bytes) + " bytes";
    } else {
      status = http::status::request_header_fields_too_large;
      code = "header_too_large";
      message = "request header larger than " +
                std::to_string(shared_.settings.limits.max_header_bytes) + " bytes";
    }
  } else if (ec == http::error::body_limit) {
    status = http::status::payload_too_large;
    code = "body_too_large";
    message = "request body larger than " + std::to_string(shared_.settings.limits.max_body_bytes) +
              " bytes";
  } else if (ec == http::error::bad_version && !requests_http1()) {
    status = http::status::http_version_not_supported;
    code = "http_version_not_supported";
    message = "only HTTP/1.0 and HTTP/1.1 are supported";
  } else {
    status = http::status::bad_request;
    code = "bad_request";
    message = "malformed request: " + ec.message();
  }
}

const handler* http_connection::route(const request& req, std::string_view& path) {
  const std::string_view raw_target(req.target().data(), req.target().size());
  if (raw_target == "*" && req.method() == http::verb::options) {
    // RFC 9112 §3.2.4: OPTIONS * asks about the server as a whole.
    res_.status = http::status::no_content;
    res_.add_header("Allow", shared_.routes.server_allow());
    return nullptr;
  }
  // A target we cannot read leaves the rest of the request in doubt: answer and
  // close (RFC 9112 §3.2 and §3.2.4 describe such requests as invalid).
  if (has_userinfo(raw_target)) {
    set_error(res_, http::status::bad_request, "bad_request",
              "the request target must not contain userinfo (\"user@\", RFC 9110 section 4.2.4)");
    res_.close = true;
    return nullptr;
  }
  const auto target = valid_target_chars(raw_target) ? split_target(raw_target) : std::nullopt;
  if (!target) {
    set_error(res_, http::status::bad_request, "bad_request",
              "unsupported request target (expected \"/path?query\" or \"http://host/path\")");
    res_.close = true;
    return nullptr;
  }
  query_ = query_params{};
  if (!target->query.empty()) {
    try {
      query_ = query_params::parse(target->query);
    } catch (const std::invalid_argument& e) {
      set_error(res_, http::status::bad_request, "invalid_argument", e.what());
      res_.close = true;
      return nullptr;
    }
  }
  path = target->path;
  return shared_.routes.find(req.method(), target->path, res_, route_index_);
}

net::awaitable<void> http_connection::run() {
  std::uint32_t served = 0;
  connection_end end = connection_end::keep_going;
  if (tls_context_) {
    bool answer_plain = false;
    const bool secured = co_await start_tls(answer_plain);
    if (!secured) {
      if (answer_plain) {
        co_await finish_and_close();
      } else {
        close_now();
      }
      co_return;
    }
  }
  while (end == connection_end::keep_going) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.settings.limits.max_header_bytes));
    parser_->body_limit(shared_.settings.limits.max_body_bytes);
    end = co_await read_head(served);
    if (end == connection_end::keep_going) {
      end = co_await read_body();
    }
    if (end == connection_end::keep_going) {
      ++served;
      bool close = co_await respond(served);
      end = co_await write_response(close);
    }
  }
  // The one exit.
  if (end == connection_end::send_and_close) {
    co_await finish_and_close();
  } else if (end == connection_end::close_quietly) {
    close_now();
  }
}

http_connection::connection_end http_connection::fail(http::status status, std::string_view code,
                                                      std::string_view message) {
  queue_error(status, code, message);
  return connection_end::send_and_close;
}

http_connection::connection_end http_connection::fail(const error_code& ec) {
  http::status status{};
  std::string code;
  std::string message;
  parse_error_reply(ec, status, code, message);
  return fail(status, code, message);
}

net::awaitable<http_connection::connection_end> http_connection::read_head(std::uint32_t served) {
  const auto& limits = shared_.settings.limits;
  const auto& timeouts = shared_.settings.timeouts;
  error_code ec;
  bool started = false;
  bool line_checked = false;
  bool skipped_empty_line = false;
  steady_clock::time_point header_deadline{};
  for (;;) {
    if (in_.size() != 0) {
      if (!line_checked && !skipped_empty_line && buffered().starts_with("\r\n")) {
        // RFC 9112 §2.2: one empty line before a request line (a stray CRLF after
        // a body) is ignored, not answered.
        in_.consume(2);
        skipped_empty_line = true;
        continue;
      }
      if (!started) {
        started = true;
        request_start_ = steady_clock::now();
        header_deadline = request_start_ + timeouts.header;
      }
      if (!line_checked) {
        const std::string_view seen = buffered();
        const auto line_end = seen.find('\n');
        std::optional<framing_problem> problem;
        if (line_end != std::string_view::npos) {
          problem = check_request_line(seen.substr(0, line_end + 1));
          line_checked = true;
        } else if (seen.size() >= limits.max_header_bytes) {
          problem = overlong_request_line(seen, limits.max_header_bytes);
        }
        if (problem) {
          co_return fail(problem->status, error_code_for(problem->status), problem->message);
        }
      }
      // Beast sees the bytes only once the whole request line is known to be good.
      if (line_checked) {
        const std::size_t n = parser_->put(in_.data(), ec);
        in_.consume(n);
        if (ec == http::error::need_more) {
          ec = {};
        } else if (ec || parser_->is_header_done()) {
          break;
        }
      }
    }
    // Responses to earlier pipelined requests go out before we wait for input.
    if (!out_.empty() && !co_await flush()) {
      co_return connection_end::gone;
    }
    const bool idle = !started;
    auto deadline =
        idle ? steady_clock::now() + (served == 0 ? timeouts.header : timeouts.keep_alive)
             : header_deadline;
    if (idle && owner().draining()) {
      deadline = std::min(deadline, owner().drain_idle_deadline());
      if (deadline <= steady_clock::now() && !has_pending_input()) {
        co_return connection_end::close_quietly;
      }
    }
    const read_result r =
        co_await read_more(idle ? wait_phase::idle : wait_phase::header, deadline);
    if (r == read_result::timed_out && started) {
      co_return fail(
          http::status::request_timeout, "request_timeout",
          "request headers not received within " + std::to_string(timeouts.header.count()) + " ms");
    }
    if (r != read_result::ok) {
      // Idle timeout, client gone, or drained: nothing is owed.
      co_return connection_end::close_quietly;
    }
  }
  if (ec) {
    co_return fail(ec);
  }
  if (auto problem = check_request_framing(parser_->get().base())) {
    co_return fail(problem->status, error_code_for(problem->status), problem->message);
  }
  co_return connection_end::keep_going;
}

bool http_connection::refused_before_body() {
  if (shared_.auth == nullptr) {
    return false;
  }
  std::string_view path;
  const handler* h = route(parser_->get(), path);
  if (h == nullptr || h->needs == 0 ||
      authorize(*shared_.auth, parser_->get(), h->needs, res_, certified_) != nullptr) {
    res_.reset();  // respond() routes (and authorizes, cheaply) again
    route_index_ = 0;
    return false;
  }
  const auto status = static_cast<unsigned>(res_.status);
  owner().metrics().observe_request(route_index_, status, steady_clock::now() - request_start_);
  caller_.reset();
  append_head(out_, res_, true, false);
  out_.append(res_.body);
  if (shared_.access != access_format::off) {
    log_access(status, res_.body.size(), std::chrono::nanoseconds(0));
  }
  return true;
}

net::awaitable<http_connection::connection_end> http_connection::read_body() {
  if (parser_->is_done()) {
    co_return connection_end::keep_going;
  }
  // A client without a key (or the scope) is refused before the server takes in up to
  // limits.max_body_size for it.
  if (refused_before_body()) {
    co_return connection_end::send_and_close;
  }
  const auto& limits = shared_.settings.limits;
  const auto& timeouts = shared_.settings.timeouts;
  const auto expect = parser_->get()[http::field::expect];
  if (!expect.empty()) {
    if (!equals_ignoring_case(expect, "100-continue")) {
      co_return fail(http::status::expectation_failed, "expectation_failed",
                     "only Expect: 100-continue is supported");
    }
    // RFC 9110 §10.1.1: an HTTP/1.0 client gets no 1xx; its expectation is ignored.
    if (in_.size() == 0 && parser_->get().version() >= 11) {
      out_.append(continue_response);
    }
  }
  const auto body_deadline = steady_clock::now() + timeouts.body;
  parser_->eager(true);
  error_code ec;
  for (;;) {
    if (in_.size() != 0) {
      const std::size_t n = parser_->put(in_.data(), ec);
      in_.consume(n);
      if (ec == http::error::need_more) {
        ec = {};
      } else if (ec || parser_->is_done()) {
        break;
      }
    }
    // Body bytes are consumed as they arrive; what stays buffered is a chunk
    // header or trailer being assembled, which Beast 1.83 does not cap.
    if (in_.size() >= limits.max_header_bytes) {
      co_return fail(http::status::bad_request, "bad_request",
                     "chunk header or trailer longer than " +
                         std::to_string(limits.max_header_bytes) + " bytes");
    }
    if (!out_.empty() && !co_await flush()) {
      co_return connection_end::gone;
    }
    const read_result r = co_await read_more(wait_phase::body, body_deadline);
    if (r == read_result::timed_out) {
      co_return fail(
          http::status::request_timeout, "request_timeout",
          "request body not received within " + std::to_string(timeouts.body.count()) + " ms");
    }
    if (r != read_result::ok) {
      co_return connection_end::close_quietly;
    }
  }
  if (ec) {
    co_return fail(ec);
  }
  co_return connection_end::keep_going;
}

net::awaitable<bool> http_connection::respond(std::uint32_t served) {
  client_gone_ = false;
  request& req = parser_->get();
  res_.reset();
  route_index_ = 0;
  std::string_view path;
  worker_metrics& metrics = owner().metrics();
  metrics.requests_in_flight.add();
  const bool logging = shared_.access != access_format::off;
  // The thread's CPU clock is a syscall, so it is read only for the access log.
  const auto cpu_start = logging ? platform::thread_cpu_time() : std::chrono::nanoseconds(0);
  std::chrono::nanoseconds offloaded_cpu(0);
  const bool safe_method = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool conditional = has_preconditions(req);
  const handler* h = route(req, path);
  if (h != nullptr && conditional && !safe_method && !h->own_preconditions &&
      evaluate_preconditions(req, {}, false) != precondition::proceed) {
    // An unsafe method's conditions are checked before it acts (RFC 9110 §13.2.1);
    // routes such as POST /eval have no current representation for "*" to match.
    set_precondition_failed(res_);
    h = nullptr;
  }
  std::shared_ptr<const caller> who;
  quota_decision quota;
  if (h != nullptr && h->needs != 0 && shared_.auth != nullptr) {
    who = authorize(*shared_.auth, req, h->needs, res_, certified_);
    if (!who) {
      h = nullptr;  // 401 or 403, filled in
    } else if (who->account) {
      // The tenant's request rate and compute quota, before any work is done for it.
      quota = who->account->admit(steady_clock::now());
      if (!quota.allowed) {
        set_quota_exceeded(res_, *who->account, quota);
        h = nullptr;
      }
    }
  }
  caller_ = who;  // for the access log
  if (h != nullptr) {
    request_context ctx{req, path, query_, owner(), shared_.settings, *this, h->data, who.get()};
    if (h->sync != nullptr) {
      router::run_sync(*h, ctx, res_);
    } else {
      co_await router::run_async(*h, ctx, res_);
      co_await stop_watch();
      if (client_gone_) {
        res_.close = true;  // nobody is reading; the write fails and we close
      }
    }
    offloaded_cpu = ctx.offloaded_cpu;
    // A GET's conditions are judged against the answer it would send: only a 2xx
    // has a representation to compare (RFC 9110 §13.2.1).
    const auto code = static_cast<unsigned>(res_.status);
    if (conditional && safe_method && code >= 200 && code < 300) {
      switch (evaluate_preconditions(req, res_.etag, true)) {
        case precondition::not_modified:
          set_not_modified(res_);
          break;
        case precondition::failed:
          set_precondition_failed(res_);
          break;
        case precondition::proceed:
          break;
      }
    }
  }
  if (quota.allowed && quota.limit > 0) {
    add_rate_limit_fields(res_, quota);
  }
  // An evaluation reports its CPU summed over workers; anything else ran here,
  // without suspending, so the thread's clock measures it.
  request_cpu_ = !logging                     ? std::chrono::nanoseconds(0)
                 : offloaded_cpu.count() != 0 ? offloaded_cpu
                                              : platform::thread_cpu_time() - cpu_start;
  metrics.requests_in_flight.sub();
  metrics.observe_request(route_index_, static_cast<unsigned>(res_.status),
                          steady_clock::now() - request_start_);
  co_return res_.close || !req.keep_alive() || owner().draining() ||
      served >= shared_.settings.limits.max_requests_per_connection;
}

net::awaitable<http_connection::connection_end> http_connection::write_response(bool close) {
  const request& req = parser_->get();
  const bool logging = shared_.access != access_format::off;
  const bool head = req.method() == http::verb::head;
  append_head(out_, res_, close, !close && req.version() < 11);
  if (res_.stream) {
    streamed_ = 0;
    if (!head) {
      if (!co_await flush()) {
        co_return connection_end::gone;
      }
      const bool body_sent = co_await write_stream(close);
      if (logging) {
        log_access(static_cast<unsigned>(res_.status), streamed_, request_cpu_);
      }
      if (!body_sent) {
        co_return connection_end::gone;
      }
    } else if (logging) {
      log_access(static_cast<unsigned>(res_.status), 0, request_cpu_);
    }
    res_.stream.reset();
  } else {
    if (!head) {
      out_.append(res_.body);
    }
    if (logging) {
      log_access(static_cast<unsigned>(res_.status), head ? 0 : res_.body.size(), request_cpu_);
    }
  }
  if (close) {
    co_return connection_end::send_and_close;
  }
  if ((in_.size() == 0 || out_.size() >= flush_threshold) && !co_await flush()) {
    co_return connection_end::gone;
  }
  co_return connection_end::keep_going;
}

}  // namespace

net::awaitable<void> serve_http(tcp::socket socket, worker& owner, const http_shared& shared,
                                std::shared_ptr<tls_context> tls, scope_set certificate_scopes) {
  http_connection c(std::move(socket), owner, shared, std::move(tls), certificate_scopes);
  co_await c.run();
}

}  // namespace evald
