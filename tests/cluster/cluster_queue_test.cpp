// The cluster job protocol (handlers/cluster_queue) against a real redis-server: the
// life of a job, the epoch fence against a stale owner, the dead-letter limit,
// cancellation, the newest-first index, and no accepted job lost to kill -9 of Redis.
#include "handlers/cluster/cluster_queue.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "tests/cluster/redis_server.hpp"

using evald::cluster_job;
using evald::cluster_queue;
using evald::redis_args;
using evald::redis_connection;
using evald::redis_endpoint;
using evald::test::redis_server;
namespace net = evald::net;

namespace {

void run(net::io_context& ctx, std::function<net::awaitable<void>()> body) {
  bool done = false;
  std::exception_ptr error;
  net::co_spawn(ctx, body(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done && std::chrono::steady_clock::now() < give_up) {
    ctx.run_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(done) << "the coroutine did not finish";
  if (error) {
    std::rethrow_exception(error);
  }
}

net::awaitable<void> until_connected(redis_connection& c) {
  net::steady_timer t(co_await net::this_coro::executor);
  for (int i = 0; i < 400; ++i) {
    try {
      if ((co_await c.exec(redis_args("PING"))).str == "PONG") {
        co_return;
      }
    } catch (const evald::redis_unavailable&) {
    }
    t.expires_after(std::chrono::milliseconds(25));
    co_await t.async_wait(net::use_awaitable);
  }
  throw std::runtime_error("never connected");
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Two nodes, each with its own command connection and blocking connection.
struct node {
  node(net::io_context& ctx, const std::string& url, const std::string& id,
       std::int64_t max_deliveries = 5)
      : commands(redis_connection::create(ctx, redis_endpoint::parse(url))),
        blocking(redis_connection::create(ctx, redis_endpoint::parse(url))),
        queue(*commands, cluster_queue::settings{"evald:", id, max_deliveries,
                                                 std::chrono::milliseconds(60'000)}) {}
  ~node() {
    commands->close();
    blocking->close();
  }
  net::awaitable<void> ready() {
    co_await until_connected(*commands);
    co_await until_connected(*blocking);
    co_await queue.prepare();
  }
  net::awaitable<std::optional<cluster_queue::delivery>> fetch() {
    co_return co_await cluster_queue::fetch(*blocking, queue.config(),
                                            std::chrono::milliseconds(200));
  }
  std::shared_ptr<redis_connection> commands;
  std::shared_ptr<redis_connection> blocking;
  cluster_queue queue;
};

class ClusterQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_server::available()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
    }
    redis_ = std::make_unique<redis_server>();
  }
  std::unique_ptr<redis_server> redis_;
  net::io_context ctx_{1};
};

bool queued(const cluster_queue::submit_result& r) {
  return r.what == cluster_queue::submit_result::kind::queued;
}

}  // namespace

TEST_F(ClusterQueue, AJobsLife) {
  node a(ctx_, redis_->url(), "node-a");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    EXPECT_TRUE(
        queued(co_await a.queue.submit("j1", R"({"workload":"prime","n":"97"})", now_ms(), "")));
    EXPECT_FALSE(queued(co_await a.queue.submit("j1", "{}", now_ms(), ""))) << "ids are unique";
    auto job = co_await a.queue.get("j1");
    EXPECT_TRUE(job && job->status == "queued");
    const auto d = co_await a.fetch();
    EXPECT_TRUE(d && d->id == "j1");
    if (!d) {
      co_return;
    }
    const auto s = co_await a.queue.start(*d, now_ms());
    EXPECT_EQ(s.what, cluster_queue::start_result::kind::run);
    EXPECT_EQ(s.epoch, 1);
    EXPECT_EQ(s.deliveries, 1);
    EXPECT_EQ(s.params, R"({"workload":"prime","n":"97"})");
    EXPECT_EQ(co_await a.queue.beat(*d, s.epoch, 0.5), cluster_queue::beat_result::ok);
    job = co_await a.queue.get("j1");
    EXPECT_EQ(job->status, "running");
    EXPECT_EQ(job->owner, "node-a");
    EXPECT_DOUBLE_EQ(job->progress, 0.5);
    EXPECT_EQ(co_await a.queue.finish(*d, s.epoch, "done", R"({"prime":true})", now_ms()),
              cluster_queue::finish_result::written);
    EXPECT_EQ(co_await a.queue.finish(*d, s.epoch, "done", R"({"again":1})", now_ms()),
              cluster_queue::finish_result::stale)
        << "the final write happens once";
    job = co_await a.queue.get("j1");
    EXPECT_EQ(job->status, "done");
    EXPECT_EQ(job->result, R"({"prime":true})");
    EXPECT_DOUBLE_EQ(job->progress, 1.0);
    EXPECT_TRUE(job->finished_ms.has_value());
  });
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{j1}:finishes"}), "1");
  EXPECT_EQ(redis_->cli({"XLEN", "evald:jobs"}), "0") << "acknowledged and deleted";
  EXPECT_GT(std::stoll(redis_->cli({"PTTL", "evald:job:{j1}"})), 0) << "finished jobs expire";
}

TEST_F(ClusterQueue, AStaleOwnerCannotRenewOrFinish) {
  node a(ctx_, redis_->url(), "node-a");
  node b(ctx_, redis_->url(), "node-b");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    co_await b.ready();
    co_await a.queue.submit("j2", "{}", now_ms(), "");
    const auto d = co_await a.fetch();
    EXPECT_TRUE(d.has_value());
    if (!d) {
      co_return;
    }
    const auto sa = co_await a.queue.start(*d, now_ms());
    // A freezes; its lease runs out (0 ms here) and B claims the job.
    const auto claimed = co_await b.queue.reclaim(std::chrono::milliseconds(0), 8);
    EXPECT_EQ(claimed.size(), 1U);
    if (claimed.empty()) {
      co_return;
    }
    const auto sb = co_await b.queue.start(claimed[0], now_ms());
    EXPECT_EQ(sb.what, cluster_queue::start_result::kind::run);
    EXPECT_EQ(sb.epoch, sa.epoch + 1);
    EXPECT_EQ(sb.deliveries, 2);
    // A wakes up: its heartbeat and its result are refused.
    EXPECT_EQ(co_await a.queue.beat(*d, sa.epoch, 0.9), cluster_queue::beat_result::stale);
    EXPECT_EQ(co_await a.queue.finish(*d, sa.epoch, "done", R"({"from":"a"})", now_ms()),
              cluster_queue::finish_result::stale);
    EXPECT_EQ(co_await b.queue.beat(claimed[0], sb.epoch, 0.2), cluster_queue::beat_result::ok);
    EXPECT_EQ(co_await b.queue.finish(claimed[0], sb.epoch, "done", R"({"from":"b"})", now_ms()),
              cluster_queue::finish_result::written);
    const auto job = co_await b.queue.get("j2");
    EXPECT_EQ(job->result, R"({"from":"b"})");
    EXPECT_EQ(job->owner, "node-b");
  });
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{j2}:finishes"}), "1");
  EXPECT_EQ(redis_->cli({"XPENDING", "evald:jobs", "workers"}).substr(0, 1), "0");
}

TEST_F(ClusterQueue, AJobThatKeepsKillingNodesEndsFailed) {
  node a(ctx_, redis_->url(), "node-a", 2);
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    co_await a.queue.submit("poison", "{}", now_ms(), "");
    auto d = co_await a.fetch();
    EXPECT_EQ((co_await a.queue.start(*d, now_ms())).what, cluster_queue::start_result::kind::run);
    auto again = co_await a.queue.reclaim(std::chrono::milliseconds(0), 8);  // delivery 2
    EXPECT_EQ((co_await a.queue.start(again.at(0), now_ms())).what,
              cluster_queue::start_result::kind::run);
    again = co_await a.queue.reclaim(std::chrono::milliseconds(0), 8);  // delivery 3 > 2
    const auto s = co_await a.queue.start(again.at(0), now_ms());
    EXPECT_EQ(s.what, cluster_queue::start_result::kind::dead);
    EXPECT_EQ(s.deliveries, 3);
    const auto job = co_await a.queue.get("poison");
    EXPECT_EQ(job->status, "failed");
    EXPECT_NE(job->result.find("job_abandoned"), std::string::npos) << job->result;
    EXPECT_TRUE((co_await a.queue.reclaim(std::chrono::milliseconds(0), 8)).empty());
  });
  EXPECT_EQ(redis_->cli({"XLEN", "evald:jobs"}), "0");
}

TEST_F(ClusterQueue, CancelQueuedAndRunning) {
  node a(ctx_, redis_->url(), "node-a");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    co_await a.queue.submit("q", "{}", now_ms(), "");
    EXPECT_EQ(co_await a.queue.cancel("q", now_ms()), cluster_queue::cancel_result::cancelled);
    EXPECT_EQ((co_await a.queue.get("q"))->status, "cancelled");
    // Its stream entry is skipped (and removed) by whoever fetches it.
    auto d = co_await a.fetch();
    EXPECT_EQ((co_await a.queue.start(*d, now_ms())).what, cluster_queue::start_result::kind::skip);

    co_await a.queue.submit("r", "{}", now_ms(), "");
    d = co_await a.fetch();
    const auto s = co_await a.queue.start(*d, now_ms());
    EXPECT_EQ(co_await a.queue.cancel("r", now_ms()), cluster_queue::cancel_result::flagged);
    EXPECT_EQ(co_await a.queue.beat(*d, s.epoch, 0.1), cluster_queue::beat_result::cancel);
    EXPECT_EQ(co_await a.queue.finish(*d, s.epoch, "cancelled", "{}", now_ms()),
              cluster_queue::finish_result::written);
    EXPECT_EQ(co_await a.queue.cancel("r", now_ms()), cluster_queue::cancel_result::finished);
    EXPECT_EQ(co_await a.queue.cancel("nope", now_ms()), cluster_queue::cancel_result::missing);
  });
  EXPECT_EQ(redis_->cli({"XLEN", "evald:jobs"}), "0");
}

TEST_F(ClusterQueue, NewestFirstAndExpiredJobsLeaveTheIndex) {
  node a(ctx_, redis_->url(), "node-a");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    for (int i = 0; i < 5; ++i) {
      co_await a.queue.submit("n" + std::to_string(i), "{}", 1000 + i, "");
    }
    co_await a.commands->exec(redis_args("DEL", "evald:job:{n3}"));  // as if it expired
    const auto list = co_await a.queue.newest(3, "");
    std::vector<std::string> ids;
    for (const auto& j : list) {
      ids.push_back(j.id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"n4", "n2", "n1"}));
    EXPECT_EQ(list.at(0).status, "queued");
    EXPECT_EQ(list.at(0).submitted_ms, 1004);
  });
  EXPECT_EQ(redis_->cli({"ZCARD", "evald:index"}), "4");
}

TEST_F(ClusterQueue, NoAcceptedJobIsLostToKill9OfRedis) {
  {
    node a(ctx_, redis_->url(), "node-a");
    run(ctx_, [&]() -> net::awaitable<void> {
      co_await a.ready();
      for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(queued(co_await a.queue.submit("k" + std::to_string(i), "{}", now_ms(), "")));
      }
    });
  }
  redis_->kill9();  // every submit above was acknowledged: appendfsync always
  redis_->restart();
  EXPECT_EQ(redis_->cli({"XLEN", "evald:jobs"}), "100");
  EXPECT_EQ(redis_->cli({"ZCARD", "evald:index"}), "100");
  EXPECT_EQ(redis_->cli({"HGET", "evald:job:{k99}", "status"}), "queued");
}

TEST_F(ClusterQueue, ASplitJobsPartsRunAnywhereAndTheLowestHitWins) {
  // Four trial-division parts over two nodes: part 1 finds a factor, which makes
  // parts 2 and 3 unneeded (a running one hears "superseded", a queued one is
  // skipped); a part done twice counts once; the job completes when parts 0 and 1
  // are in, with the smallest factor and the nodes that ran parts.
  node a(ctx_, redis_->url(), "node-a");
  node b(ctx_, redis_->url(), "node-b");
  using part_result = cluster_queue::part_result;
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    co_await b.ready();
    const std::vector<std::string> parts{"p0", "p1", "p2", "p3"};
    EXPECT_TRUE(queued(co_await a.queue.submit_split("s1", "{}", now_ms(), "trial", R"({"n":"77")",
                                                     0, parts, "")));
    auto job = co_await a.queue.get("s1");
    EXPECT_EQ(job->parts, 4);
    EXPECT_EQ(job->status, "queued");
    std::vector<cluster_queue::delivery> got;
    for (int i = 0; i < 4; ++i) {
      node& taker = i % 2 == 0 ? a : b;
      auto d = co_await taker.fetch();
      EXPECT_TRUE(d && d->id == "s1" && d->part == i);
      if (!d) {
        co_return;
      }
      got.push_back(*d);
    }
    const auto s0 = co_await a.queue.start(got[0], now_ms(), "0");
    const auto s1 = co_await b.queue.start(got[1], now_ms(), "0");
    const auto s2 = co_await a.queue.start(got[2], now_ms(), "1");
    EXPECT_EQ(s0.what, cluster_queue::start_result::kind::run);
    EXPECT_EQ(s0.params, "p0");
    EXPECT_EQ(s1.params, "p1");
    EXPECT_EQ(s1.split, "trial");
    EXPECT_EQ(co_await a.queue.beat(got[2], s2.epoch, 0), cluster_queue::beat_result::ok);
    // Part 1 finds 11 (a factor, made up for the protocol: 7 is in part 0).
    EXPECT_EQ(co_await b.queue.finish_part(got[1], "done", "11,5", true, now_ms()),
              part_result::recorded);
    EXPECT_EQ(co_await b.queue.finish_part(got[1], "done", "11,5", true, now_ms()),
              part_result::late)
        << "a part's result is written once";
    EXPECT_EQ(co_await a.queue.beat(got[2], s2.epoch, 0), cluster_queue::beat_result::superseded);
    EXPECT_EQ((co_await a.queue.start(got[3], now_ms(), "1")).what,
              cluster_queue::start_result::kind::skip)
        << "a queued part above the hit is skipped";
    job = co_await a.queue.get("s1");
    EXPECT_EQ(job->status, "running");
    EXPECT_EQ(job->parts_done, 1);
    EXPECT_EQ(co_await a.queue.finish_part(got[0], "done", "7,4", true, now_ms()),
              part_result::written);
    EXPECT_EQ(co_await a.queue.finish_part(got[2], "superseded", "", false, now_ms()),
              part_result::late);
    job = co_await a.queue.get("s1");
    EXPECT_EQ(job->status, "done");
    EXPECT_EQ(job->result,
              R"({"n":"77","prime":false,"method":"trial","factor":"7","divisors_checked":"12",)"
              R"("workers":3,"chunks":4,"chunks_run":2,"nodes":["node-a","node-b"]})");
    EXPECT_EQ(job->nodes, (std::vector<std::string>{"node-a", "node-b"}));
    EXPECT_DOUBLE_EQ(job->progress, 1.0);
  });
  EXPECT_EQ(redis_->cli({"XLEN", "evald:jobs"}), "0") << "every part entry is gone";
  EXPECT_GT(std::stoll(redis_->cli({"PTTL", "evald:job:{s1}:results"})), 0);
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{s1}:finishes"}), "1");
}

TEST_F(ClusterQueue, AMapsPartsAssembleInOrderAndAFailedPartEndsTheJob) {
  node a(ctx_, redis_->url(), "node-a");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    const std::vector<std::string> two{"x", "y"};
    EXPECT_TRUE(queued(co_await a.queue.submit_split("m1", "{}", now_ms(), "map", "", 0, two, "")));
    auto d0 = co_await a.fetch();
    auto d1 = co_await a.fetch();
    if (!d0 || !d1) {
      ADD_FAILURE() << "no part fetched";
      co_return;
    }
    (void)co_await a.queue.start(*d1, now_ms(), "0");
    (void)co_await a.queue.start(*d0, now_ms(), "0");
    // Out of order: part 1 ends first.
    EXPECT_EQ(co_await a.queue.finish_part(*d1, "done", R"(1,1,0.5|{"r":3},{"error":{}})", false,
                                           now_ms()),
              cluster_queue::part_result::recorded);
    EXPECT_EQ(
        co_await a.queue.finish_part(*d0, "done", R"(2,0,1.25|{"r":1},{"r":2})", false, now_ms()),
        cluster_queue::part_result::written);
    const auto job = co_await a.queue.get("m1");
    EXPECT_EQ(job->status, "done");
    EXPECT_TRUE(job->result.starts_with(
        R"({"results":[{"r":1},{"r":2},{"r":3},{"error":{}}],"summary":{"items":4,"ok":3,)"
        R"("failed":1,"chunks":2,"workers":1,"nodes":["node-a"],"wall_ms":)"))
        << job->result;
    EXPECT_TRUE(job->result.ends_with(R"(,"cpu_ms":1.750}})")) << job->result;

    EXPECT_TRUE(queued(co_await a.queue.submit_split("m2", "{}", now_ms(), "map", "", 0, two, "")));
    auto e0 = co_await a.fetch();
    if (!e0) {
      co_return;
    }
    (void)co_await a.queue.start(*e0, now_ms(), "0");
    EXPECT_EQ(co_await a.queue.finish_part(*e0, "expired", R"({"error":{"status":504}})", false,
                                           now_ms()),
              cluster_queue::part_result::written);
    const auto failed = co_await a.queue.get("m2");
    EXPECT_EQ(failed->status, "expired");
    EXPECT_EQ(failed->result, R"({"error":{"status":504}})");
    auto e1 = co_await a.fetch();
    EXPECT_TRUE(e1 && (co_await a.queue.start(*e1, now_ms(), "0")).what ==
                          cluster_queue::start_result::kind::skip)
        << "the other part of an ended job is dropped";
  });
}

TEST_F(ClusterQueue, ASplitJobsDeadlineRunsFromItsFirstPartsStartAndAnyReaderSeesItExpire) {
  node a(ctx_, redis_->url(), "node-a");
  run(ctx_, [&]() -> net::awaitable<void> {
    co_await a.ready();
    const std::vector<std::string> two{"x", "y"};
    // Launched a minute ago with a 1 s timeout: queueing does not count.
    const std::int64_t launched = now_ms() - 60'000;
    EXPECT_TRUE(
        queued(co_await a.queue.submit_split("d1", "{}", launched, "map", "", 1000, two, "")));
    auto queued_job = co_await a.queue.get("d1");
    EXPECT_EQ(queued_job->deadline_ms, 0) << "no deadline before a part starts";
    auto d0 = co_await a.fetch();
    auto d1 = co_await a.fetch();
    if (!d0 || !d1) {
      ADD_FAILURE() << "no part fetched";
      co_return;
    }
    const std::int64_t t0 = now_ms();
    const auto s0 = co_await a.queue.start(*d0, t0, "0");
    EXPECT_EQ(s0.what, cluster_queue::start_result::kind::run);
    EXPECT_EQ(s0.deadline_ms, t0 + 1000) << "1 s from the first part's start";
    const auto s1 = co_await a.queue.start(*d1, t0 + 500, "0");
    EXPECT_EQ(s1.deadline_ms, t0 + 1000) << "a later part keeps the job's deadline";
    EXPECT_FALSE(co_await a.queue.expire_if_late("d1", t0 + 999));
    EXPECT_EQ((co_await a.queue.get("d1"))->status, "running");
    // Past it, whoever asks ends it: expired with its error, once.
    EXPECT_TRUE(co_await a.queue.expire_if_late("d1", t0 + 1000));
    EXPECT_FALSE(co_await a.queue.expire_if_late("d1", t0 + 2000));
    const auto job = co_await a.queue.get("d1");
    EXPECT_EQ(job->status, "expired");
    EXPECT_NE(job->result.find("deadline_exceeded"), std::string::npos) << job->result;
    EXPECT_EQ(co_await a.queue.finish_part(*d0, "done", R"(1,0,0.5|{"r":1})", false, t0 + 1100),
              cluster_queue::part_result::late)
        << "a part ending after the expiry writes nothing";
    EXPECT_EQ((co_await a.queue.get("d1"))->status, "expired");
  });
}
