#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "server/net.hpp"

struct redisAsyncContext;

// A Redis connection on one worker's io_context: hiredis (Debian's libhiredis 0.14,
// RESP2) driven by Asio waits on its socket, so no thread is added and no call
// blocks the worker (the host is an IP literal or a unix socket: nothing to resolve).
// Commands are pipelined; each has a deadline, and a deadline passing drops the
// connection (hiredis 0.14 has no timeouts of its own). The connection comes back by
// itself with back-off. Owned by one worker; never shared across threads.
namespace evald {

struct redis_reply {
  enum class kind : std::uint8_t { string, array, integer, nil, status, error };
  kind type = kind::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<redis_reply> elements;

  bool is_error() const noexcept { return type == kind::error; }
  bool is_nil() const noexcept { return type == kind::nil; }
};

// Why Redis cannot take a command now, for clients, /readyz, /metrics and systemd.
enum class redis_problem : std::uint8_t { unreachable, auth, out_of_memory, lost_data };
const char* name(redis_problem p) noexcept;  // "unreachable", "auth", "out_of_memory", ...

// Redis could not be reached, did not answer in time, refused our credentials or is
// out of memory: what() names the cause (never a secret).
struct redis_unavailable : std::runtime_error {
  explicit redis_unavailable(const std::string& what,
                             redis_problem why = redis_problem::unreachable)
      : std::runtime_error(what), problem(why) {}
  redis_problem problem;
};

// An error reply that means Redis cannot take commands now (NOAUTH, WRONGPASS, OOM,
// NOGROUP after a data loss) as redis_unavailable naming the cause; nullopt for any
// other error.
std::optional<redis_unavailable> unavailable_from_reply(const std::string& error);

struct redis_endpoint {
  std::string host;  // an IPv4 or IPv6 literal; empty when unix_path is set
  std::uint16_t port = 6379;
  std::string unix_path;  // unix socket
  std::string user;       // ACL user ("" = the default user)
  std::string password;   // AUTH after every connect when not empty
  std::chrono::milliseconds command_timeout{2000};

  // "redis://127.0.0.1:6379", "redis://[::1]:6379" or "unix:/run/redis.sock".
  // Throws std::invalid_argument naming the problem (a host name is refused).
  static redis_endpoint parse(std::string_view url);
  std::string describe() const;
};

// A command's arguments: redis_args("SET", key, value). (A braced list of literals
// passed inside a co_await expression trips GCC 12's coroutine lowering.)
// Taken by value, so string literals decay to pointers (no array in the frame).
template <class... Args>
std::vector<std::string> redis_args(Args... args) {
  return {std::string(std::move(args))...};
}

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  static std::shared_ptr<redis_connection> create(net::io_context& ctx, redis_endpoint endpoint);
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  // Sends one command (binary-safe arguments) and waits for its reply. Throws
  // redis_unavailable when not connected, on a lost connection or past the command
  // timeout. An error reply is returned, not thrown.
  net::awaitable<redis_reply> exec(std::vector<std::string> argv);

  bool connected() const noexcept { return state_ == state::connected; }
  // Round trip of the last answered command.
  std::chrono::microseconds last_round_trip() const noexcept { return last_rtt_; }
  std::uint64_t reconnects() const noexcept { return reconnects_; }
  // Stops reconnecting and drops the connection (pending commands fail).
  void close();

 private:
  struct pending;
  enum class state : std::uint8_t { disconnected, connecting, connected, closed };

  redis_connection(net::io_context& ctx, redis_endpoint endpoint);
  void connect();
  void schedule_reconnect();
  void on_connected(int status);
  void on_disconnected();
  void arm_read();
  void arm_write();
  void drop(const char* why);

  static void hook_add_read(void* self);
  static void hook_del_read(void* self);
  static void hook_add_write(void* self);
  static void hook_del_write(void* self);
  static void hook_cleanup(void* self);
  static void on_connect_cb(const redisAsyncContext* ac, int status);
  static void on_disconnect_cb(const redisAsyncContext* ac, int status);
  static void on_reply_cb(redisAsyncContext* ac, void* reply, void* privdata);

  net::io_context& ctx_;
  redis_endpoint endpoint_;
  redisAsyncContext* ac_ = nullptr;
  std::optional<net::posix::stream_descriptor> socket_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool reading_ = false;
  bool writing_ = false;
  state state_ = state::disconnected;
  net::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_{50};
  std::chrono::microseconds last_rtt_{0};
  std::uint64_t reconnects_ = 0;
  // AUTH: sent on connect (and again once a second while refused); the refusal text.
  void send_auth();
  bool auth_pending_ = false;
  std::string auth_refused_;
  std::chrono::steady_clock::time_point auth_sent_{};
  std::uint64_t generation_ = 0;  // of the current hiredis context: stale waits ignore themselves
};

}  // namespace evald
