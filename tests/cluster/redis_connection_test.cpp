// The hiredis adapter against a real redis-server: commands and reply shapes, a
// unix socket, no thread added, reconnection after kill -9 and restart, a command
// timeout while Redis is frozen (SIGSTOP), and failing fast while it is down.
#include "handlers/cluster/redis_connection.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "tests/cluster/redis_server.hpp"

using evald::redis_connection;
using evald::redis_endpoint;
using evald::redis_reply;
using evald::redis_unavailable;
using evald::test::redis_server;

namespace {

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// Runs `body` as a coroutine on `ctx` until it returns (or `limit` passes: a failure).
void run(evald::net::io_context& ctx, std::function<evald::net::awaitable<void>()> body,
         std::chrono::seconds limit = std::chrono::seconds(20)) {
  bool done = false;
  std::exception_ptr error;
  evald::net::co_spawn(ctx, body(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < give_up) {
    ctx.run_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(done) << "the coroutine did not finish";
  if (error) {
    std::rethrow_exception(error);
  }
}

// Waits (on the io_context) until a PING succeeds.
evald::net::awaitable<void> until_connected(redis_connection& c) {
  evald::net::steady_timer t(co_await evald::net::this_coro::executor);
  for (int i = 0; i < 400; ++i) {
    try {
      if ((co_await c.exec(evald::redis_args("PING"))).str == "PONG") {
        co_return;
      }
    } catch (const redis_unavailable&) {
    }
    t.expires_after(std::chrono::milliseconds(25));
    co_await t.async_wait(evald::net::use_awaitable);
  }
  throw std::runtime_error("never connected");
}

class RedisConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_server::available()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
    }
  }
};

}  // namespace

TEST(RedisEndpoint, ParsesIpLiteralsAndUnixSockets) {
  auto e = redis_endpoint::parse("redis://127.0.0.1:6390");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 6390);
  e = redis_endpoint::parse("redis://[::1]:7000");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.describe(), "[::1]:7000");
  EXPECT_EQ(redis_endpoint::parse("redis://10.0.0.1").port, 6379);
  EXPECT_EQ(redis_endpoint::parse("unix:/run/redis.sock").unix_path, "/run/redis.sock");
  for (const char* bad : {"redis://localhost:6379", "http://127.0.0.1:1", "unix:relative",
                          "redis://127.0.0.1:0", "redis://127.0.0.1:99999", "redis://[::1"}) {
    EXPECT_THROW(redis_endpoint::parse(bad), std::invalid_argument) << bad;
  }
}

TEST_F(RedisConnection, CommandsAndReplyShapesWithNoExtraThread) {
  redis_server redis;
  evald::net::io_context ctx(1);
  const auto threads = thread_count();
  auto c = redis_connection::create(ctx, redis_endpoint::parse(redis.url()));
  run(ctx, [&]() -> evald::net::awaitable<void> {
    co_await until_connected(*c);
    EXPECT_TRUE(c->connected());
    const std::string binary("a\0b\r\n", 5);
    EXPECT_EQ((co_await c->exec(evald::redis_args("SET", "k", binary))).str, "OK");
    const auto got = co_await c->exec(evald::redis_args("GET", "k"));
    EXPECT_EQ(got.type, redis_reply::kind::string);
    EXPECT_EQ(got.str, binary);
    EXPECT_TRUE((co_await c->exec(evald::redis_args("GET", "missing"))).is_nil());
    EXPECT_EQ((co_await c->exec(evald::redis_args("INCRBY", "n", "41"))).integer, 41);
    const auto err = co_await c->exec(evald::redis_args("INCR", "k"));
    EXPECT_TRUE(err.is_error());
    co_await c->exec(evald::redis_args("XADD", "s", "*", "id", "job-1"));
    const auto range = co_await c->exec(evald::redis_args("XRANGE", "s", "-", "+"));
    // (EXPECT, not ASSERT: a coroutine cannot `return` early.)
    EXPECT_EQ(range.type, redis_reply::kind::array);
    if (range.elements.size() == 1 && range.elements[0].elements.size() == 2) {
      EXPECT_EQ(range.elements[0].elements[1].elements[1].str, "job-1");
    } else {
      ADD_FAILURE() << "XRANGE shape";
    }
    // Pipelined: many commands in flight at once, answered in order.
    std::vector<long long> seen;
    for (int i = 0; i < 200; ++i) {
      seen.push_back((co_await c->exec(evald::redis_args("INCR", "counter"))).integer);
    }
    EXPECT_EQ(seen.back(), 200);
    EXPECT_GT(c->last_round_trip().count(), 0);
  });
  EXPECT_EQ(thread_count(), threads) << "the client added a thread";
  c->close();
}

TEST_F(RedisConnection, UnixSocket) {
  redis_server redis;
  evald::net::io_context ctx(1);
  auto c = redis_connection::create(ctx, redis_endpoint::parse("unix:" + redis.socket_path()));
  run(ctx, [&]() -> evald::net::awaitable<void> {
    co_await until_connected(*c);
    EXPECT_EQ((co_await c->exec(evald::redis_args("ECHO", "over unix"))).str, "over unix");
  });
  c->close();
}

TEST_F(RedisConnection, ReconnectsAfterKill9AndRestart) {
  redis_server redis;
  evald::net::io_context ctx(1);
  auto c = redis_connection::create(ctx, redis_endpoint::parse(redis.url()));
  run(ctx, [&]() -> evald::net::awaitable<void> {
    co_await until_connected(*c);
    co_await c->exec(evald::redis_args("SET", "durable", "yes"));
  });
  redis.kill9();
  run(ctx, [&]() -> evald::net::awaitable<void> {
    bool failed = false;
    try {
      co_await c->exec(evald::redis_args("PING"));
    } catch (const redis_unavailable&) {
      failed = true;
    }
    EXPECT_TRUE(failed) << "a command to a dead Redis must fail";
  });
  redis.restart();
  run(ctx, [&]() -> evald::net::awaitable<void> {
    co_await until_connected(*c);
    EXPECT_EQ((co_await c->exec(evald::redis_args("GET", "durable"))).str, "yes") << "AOF replayed";
  });
  EXPECT_GE(c->reconnects(), 2U);
  c->close();
}

TEST_F(RedisConnection, AFrozenRedisTimesOutAndTheConnectionComesBack) {
  redis_server redis;
  evald::net::io_context ctx(1);
  auto endpoint = redis_endpoint::parse(redis.url());
  endpoint.command_timeout = std::chrono::milliseconds(300);
  auto c = redis_connection::create(ctx, endpoint);
  run(ctx, [&]() -> evald::net::awaitable<void> { co_await until_connected(*c); });
  redis.pause();
  run(ctx, [&]() -> evald::net::awaitable<void> {
    const auto t0 = std::chrono::steady_clock::now();
    bool timed_out = false;
    try {
      co_await c->exec(evald::redis_args("PING"));
    } catch (const redis_unavailable&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  });
  redis.resume();
  run(ctx, [&]() -> evald::net::awaitable<void> { co_await until_connected(*c); });
  c->close();
}

TEST_F(RedisConnection, NoServerFailsFast) {
  evald::net::io_context ctx(1);
  redis_endpoint e;
  e.host = "127.0.0.1";
  e.port = 1;  // nothing listens there
  auto c = redis_connection::create(ctx, e);
  run(ctx, [&]() -> evald::net::awaitable<void> {
    const auto t0 = std::chrono::steady_clock::now();
    bool failed = false;
    try {
      co_await c->exec(evald::redis_args("PING"));
    } catch (const redis_unavailable&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    EXPECT_FALSE(c->connected());
  });
  c->close();
}
