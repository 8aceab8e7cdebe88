#include "handlers/cluster/redis_connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <charconv>

namespace evald {

namespace {

redis_reply convert(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = redis_reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = redis_reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = redis_reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.elements.push_back(convert(r->element[i]));
      }
      break;
    default:
      out.type = redis_reply::kind::nil;
  }
  return out;
}

}  // namespace

redis_endpoint redis_endpoint::parse(std::string_view url) {
  redis_endpoint e;
  if (url.starts_with("unix:")) {
    e.unix_path = std::string(url.substr(5));
    if (e.unix_path.empty() || e.unix_path.front() != '/') {
      throw std::invalid_argument("unix: needs an absolute socket path (unix:/run/redis.sock)");
    }
    return e;
  }
  if (!url.starts_with("redis://")) {
    throw std::invalid_argument("expected redis://IP:PORT or unix:/path, got \"" +
                                std::string(url) + "\"");
  }
  std::string_view rest = url.substr(8);
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("an IPv6 address needs a closing ]");
    }
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      throw std::invalid_argument("expected :PORT after the IPv6 address");
    }
    port = rest.empty() ? std::string_view() : rest.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    host = rest.substr(0, colon);
    port = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
  }
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
      throw std::invalid_argument("the port must be 1 to 65535, got \"" + std::string(port) + "\"");
    }
    e.port = static_cast<std::uint16_t>(p);
  }
  boost::system::error_code ec;
  net::ip::make_address(std::string(host), ec);
  if (ec) {
    // Resolving a name would be a blocking call on a worker: IP literals only.
    throw std::invalid_argument("the Redis host must be an IP address (no name lookups), got \"" +
                                std::string(host) + "\"");
  }
  e.host = std::string(host);
  return e;
}

std::string redis_endpoint::describe() const {
  if (!unix_path.empty()) {
    return "unix:" + unix_path;
  }
  return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                             : host + ":" + std::to_string(port);
}

// One command in flight, shared by the waiting coroutine and hiredis's callback
// (through a heap-held shared_ptr passed as privdata). The timer is both the
// deadline and the wake-up: the reply cancels it, which resumes the waiter from the
// event loop, never inside hiredis.
struct redis_connection::pending {
  explicit pending(net::io_context& ctx) : wake(ctx) {}
  net::steady_timer wake;
  std::optional<redis_reply> reply;
  bool lost = false;
  bool done = false;
  std::chrono::steady_clock::time_point sent;

  void complete() {
    done = true;
    wake.cancel();
  }
};

std::shared_ptr<redis_connection> redis_connection::create(net::io_context& ctx,
                                                           redis_endpoint endpoint) {
  std::shared_ptr<redis_connection> c(new redis_connection(ctx, std::move(endpoint)));
  c->connect();
  return c;
}

redis_connection::redis_connection(net::io_context& ctx, redis_endpoint endpoint)
    : ctx_(ctx), endpoint_(std::move(endpoint)), retry_timer_(ctx) {}

redis_connection::~redis_connection() {
  state_ = state::closed;
  if (ac_ != nullptr) {
    redisAsyncFree(ac_);  // fails pending commands; hooks see state closed
  }
}

void redis_connection::close() {
  state_ = state::closed;
  retry_timer_.cancel();
  if (ac_ != nullptr) {
    redisAsyncFree(ac_);
  }
}

void redis_connection::connect() {
  if (state_ == state::closed) {
    return;
  }
  state_ = state::connecting;
  ++generation_;
  ac_ = endpoint_.unix_path.empty() ? redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port)
                                    : redisAsyncConnectUnix(endpoint_.unix_path.c_str());
  if (ac_ == nullptr || ac_->err != 0) {
    if (ac_ != nullptr) {
      spdlog::debug("redis {}: {}", endpoint_.describe(), ac_->errstr);
      redisAsyncFree(ac_);
      ac_ = nullptr;
    }
    schedule_reconnect();
    return;
  }
  ac_->data = this;
  ac_->ev.data = this;
  ac_->ev.addRead = hook_add_read;
  ac_->ev.delRead = hook_del_read;
  ac_->ev.addWrite = hook_add_write;
  ac_->ev.delWrite = hook_del_write;
  ac_->ev.cleanup = hook_cleanup;
  redisAsyncSetConnectCallback(ac_, on_connect_cb);
  redisAsyncSetDisconnectCallback(ac_, on_disconnect_cb);
  socket_.emplace(ctx_, ac_->c.fd);  // not owned: released before hiredis closes it
  send_auth();
  // The connect completes on the socket's first write readiness.
  hook_add_write(this);
}

const char* name(redis_problem p) noexcept {
  switch (p) {
    case redis_problem::unreachable:
      return "unreachable";
    case redis_problem::auth:
      return "auth";
    case redis_problem::out_of_memory:
      return "out_of_memory";
    case redis_problem::lost_data:
      return "lost_data";
  }
  return "unreachable";
}

std::optional<redis_unavailable> unavailable_from_reply(const std::string& error) {
  const auto starts = [&error](std::string_view prefix) { return error.starts_with(prefix); };
  // An unauthenticated client sending a command of more than 10 arguments gets a
  // protocol error instead of NOAUTH (Redis 7 bounds what it parses before AUTH).
  if (starts("NOAUTH") || starts("WRONGPASS") || starts("NOPERM") ||
      error.find("AUTH") != std::string::npos ||
      error.find("unauthenticated") != std::string::npos) {
    return redis_unavailable(
        "Redis refused evald's credentials (cluster.password): " + error.substr(0, 120),
        redis_problem::auth);
  }
  if (starts("OOM") || error.find("OOM command not allowed") != std::string::npos) {
    return redis_unavailable("Redis is out of memory (maxmemory reached with noeviction)",
                             redis_problem::out_of_memory);
  }
  if (starts("NOGROUP")) {
    return redis_unavailable(
        "Redis has lost evald's queue (restarted empty or flushed); it is being recreated",
        redis_problem::lost_data);
  }
  return std::nullopt;
}

void redis_connection::schedule_reconnect() {
  if (state_ == state::closed) {
    return;
  }
  state_ = state::disconnected;
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(2000));
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec && self->state_ == state::disconnected) {
      self->connect();
    }
  });
}

void redis_connection::on_connect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (status != REDIS_OK) {
    // hiredis frees the context right after this callback (cleanup hook first).
    spdlog::debug("redis {}: connect failed: {}", self->endpoint_.describe(),
                  ac->errstr != nullptr ? ac->errstr : "?");
    net::post(self->ctx_, [weak = self->weak_from_this()] {
      if (auto s = weak.lock()) {
        s->schedule_reconnect();
      }
    });
    return;
  }
  if (self->state_ == state::connecting) {
    self->state_ = state::connected;
    self->backoff_ = std::chrono::milliseconds(50);
    ++self->reconnects_;
    spdlog::info("redis {}: connected", self->endpoint_.describe());
  }
}

void redis_connection::on_disconnect_cb(const redisAsyncContext* ac, int) {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (self->state_ == state::closed) {
    return;
  }
  spdlog::warn("redis {}: connection lost", self->endpoint_.describe());
  self->state_ = state::disconnected;
  net::post(self->ctx_, [weak = self->weak_from_this()] {
    if (auto s = weak.lock()) {
      s->schedule_reconnect();
    }
  });
}

void redis_connection::on_reply_cb(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* ref = static_cast<std::shared_ptr<pending>*>(privdata);
  std::shared_ptr<pending> op = std::move(*ref);
  delete ref;
  if (op->done) {
    return;  // its waiter gave up already (deadline)
  }
  if (reply == nullptr) {
    op->lost = true;  // the context is going away (lost, timed out or closed)
  } else {
    op->reply = convert(static_cast<const redisReply*>(reply));
    if (ac != nullptr && ac->data != nullptr) {
      auto* self = static_cast<redis_connection*>(ac->data);
      self->last_rtt_ = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - op->sent);
    }
  }
  op->complete();
}

void redis_connection::send_auth() {
  if (endpoint_.password.empty() || ac_ == nullptr) {
    return;
  }
  // AUTH user password for an ACL user, AUTH password for the default user.
  const bool named = !endpoint_.user.empty();
  const char* argv[] = {"AUTH", named ? endpoint_.user.c_str() : endpoint_.password.c_str(),
                        endpoint_.password.c_str()};
  const std::size_t lens[] = {4, named ? endpoint_.user.size() : endpoint_.password.size(),
                              endpoint_.password.size()};
  auth_pending_ = true;
  auth_sent_ = std::chrono::steady_clock::now();
  redisAsyncCommandArgv(
      ac_,
      [](redisAsyncContext* ac, void* reply, void*) {
        const auto* r = static_cast<const redisReply*>(reply);
        auto* self = ac != nullptr ? static_cast<redis_connection*>(ac->data) : nullptr;
        if (self == nullptr) {
          return;
        }
        self->auth_pending_ = false;
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) {
          if (self->auth_refused_.empty()) {
            spdlog::error("redis {}: AUTH failed: {}", self->endpoint_.describe(),
                          std::string(r->str, r->len));
          }
          self->auth_refused_.assign(r->str, r->len);
        } else if (r != nullptr) {
          self->auth_refused_.clear();
        }
      },
      nullptr, named ? 3 : 2, argv, lens);
}

net::awaitable<redis_reply> redis_connection::exec(std::vector<std::string> argv) {
  if ((state_ != state::connected && state_ != state::connecting) || ac_ == nullptr) {
    if (!auth_refused_.empty()) {
      // Closed after refusing our credentials: that is the cause to report.
      throw unavailable_from_reply(auth_refused_)
          .value_or(redis_unavailable("Redis refused evald's credentials", redis_problem::auth));
    }
    throw redis_unavailable("Redis at " + endpoint_.describe() + " is unreachable");
  }
  if (!auth_refused_.empty()) {
    // Refused credentials are answered here, not sent on: Redis answers an
    // unauthenticated command of more than 10 arguments with a protocol error and
    // closes the connection. Once a second the AUTH alone is tried again (the
    // password may have been fixed in Redis); commands go on once it is accepted.
    if (!auth_pending_ &&
        std::chrono::steady_clock::now() - auth_sent_ >= std::chrono::seconds(1)) {
      send_auth();
    }
    throw unavailable_from_reply(auth_refused_)
        .value_or(redis_unavailable("Redis refused evald's credentials", redis_problem::auth));
  }
  auto op = std::make_shared<pending>(ctx_);
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  op->sent = std::chrono::steady_clock::now();
  op->wake.expires_after(endpoint_.command_timeout);
  auto* ref = new std::shared_ptr<pending>(op);
  if (redisAsyncCommandArgv(ac_, on_reply_cb, ref, static_cast<int>(args.size()), args.data(),
                            lens.data()) != REDIS_OK) {
    delete ref;
    throw redis_unavailable("Redis at " + endpoint_.describe() + " is unreachable");
  }
  auto self = shared_from_this();  // the connection outlives this wait
  co_await op->wake.async_wait(use_tuple);
  if (!op->done) {
    op->done = true;  // the deadline passed first
    drop("a command got no answer within the command timeout");
    throw redis_unavailable("Redis at " + endpoint_.describe() + " did not answer in time");
  }
  if (op->lost || !op->reply) {
    throw redis_unavailable("the connection to Redis at " + endpoint_.describe() + " was lost");
  }
  co_return std::move(*op->reply);
}

void redis_connection::drop(const char* why) {
  if (ac_ == nullptr) {
    return;
  }
  spdlog::warn("redis {}: dropping the connection: {}", endpoint_.describe(), why);
  redisAsyncContext* ac = ac_;
  redisAsyncFree(ac);  // pending commands fail; the disconnect callback schedules a retry
  if (state_ != state::closed && state_ != state::disconnected) {
    schedule_reconnect();
  }
}

void redis_connection::arm_read() {
  if (!want_read_ || reading_ || !socket_) {
    return;
  }
  reading_ = true;
  socket_->async_wait(
      net::posix::stream_descriptor::wait_read,
      [weak = weak_from_this(), gen = generation_](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self || self->generation_ != gen || self->ac_ == nullptr) {
          return;  // a later connection, or none
        }
        self->reading_ = false;
        if (!ec && self->want_read_) {
          redisAsyncHandleRead(self->ac_);  // re-adds read interest when it stays
        }
      });
}

void redis_connection::arm_write() {
  if (!want_write_ || writing_ || !socket_) {
    return;
  }
  writing_ = true;
  socket_->async_wait(
      net::posix::stream_descriptor::wait_write,
      [weak = weak_from_this(), gen = generation_](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self || self->generation_ != gen || self->ac_ == nullptr) {
          return;
        }
        self->writing_ = false;
        if (!ec && self->want_write_) {
          redisAsyncHandleWrite(self->ac_);
          if (self->generation_ == gen && self->ac_ != nullptr) {
            self->arm_write();  // still more to send
          }
        }
      });
}

void redis_connection::hook_add_read(void* p) {
  auto* self = static_cast<redis_connection*>(p);
  self->want_read_ = true;
  self->arm_read();
}

void redis_connection::hook_del_read(void* p) {
  static_cast<redis_connection*>(p)->want_read_ = false;
}

void redis_connection::hook_add_write(void* p) {
  auto* self = static_cast<redis_connection*>(p);
  self->want_write_ = true;
  self->arm_write();
}

void redis_connection::hook_del_write(void* p) {
  static_cast<redis_connection*>(p)->want_write_ = false;
}

void redis_connection::hook_cleanup(void* p) {
  // hiredis is about to close the fd and free the context.
  auto* self = static_cast<redis_connection*>(p);
  self->want_read_ = false;
  self->want_write_ = false;
  self->reading_ = false;
  self->writing_ = false;
  if (self->socket_) {
    self->socket_->release();
    self->socket_.reset();
  }
  self->ac_ = nullptr;
}

}  // namespace evald
