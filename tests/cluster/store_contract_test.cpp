// The store contract: the same cases against the memory backend and against the Redis
// backend on a real redis-server, so the two cannot drift. Each case runs on a real
// worker (its io_context and compute loop) as a handler would: launched jobs (submit,
// get, cancel, list, counts), named scripts (writes under preconditions and
// compare-and-set, read-your-writes, the name limit) and the resolution of the names
// a request uses.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>

#include "handlers/cluster/redis_backend.hpp"
#include "handlers/request/eval_request.hpp"
#include "handlers/request/script_request.hpp"
#include "handlers/store/memory_backend.hpp"
#include "server/worker.hpp"
#include "tests/cluster/redis_server.hpp"

namespace {

using namespace evald;
using json = nlohmann::json;
using write_result = script_store::write_result;

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    settings_.scripts.max_named = 3;
    settings_.cluster.node_id = "contract";
    settings_.cluster.heartbeat = std::chrono::milliseconds(100);
    if (GetParam() == "redis") {
      if (!test::redis_server::available()) {
        GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
      }
      redis_ = std::make_unique<test::redis_server>();
      settings_.cluster.redis = redis_->url();
    }
    worker_ = std::make_unique<worker>(0, open_, std::chrono::milliseconds(100));
    worker_->set_peers({worker_.get()});
    worker* const all[] = {worker_.get()};
    stores_ = GetParam() == "redis"
                  ? make_redis_backend(settings_, all, {})
                  : std::unique_ptr<backend>(std::make_unique<memory_backend>(settings_, all));
    stores_->start();
  }

  void TearDown() override {
    if (stores_) {
      stores_->close();
    }
    stores_.reset();
    worker_.reset();
  }

  // Runs `body` on the worker's thread (this one) until it ends; a hard limit of 60 s.
  void run(std::function<net::awaitable<void>()> body) {
    std::exception_ptr error;
    bool done = false;
    net::co_spawn(worker_->context(), body(), [&](std::exception_ptr e) {
      error = e;
      done = true;
      worker_->stop();
    });
    net::steady_timer limit(worker_->context());
    limit.expires_after(std::chrono::seconds(60));
    limit.async_wait([&](boost::system::error_code ec) {
      if (!ec) {
        worker_->stop();
      }
    });
    worker_->run();
    limit.cancel();
    ASSERT_TRUE(done) << "the case did not finish within 60 s";
    if (error) {
      std::rethrow_exception(error);
    }
  }

  // As POST /eval-launch hands a job to the store: parsed, its names resolved.
  net::awaitable<job_launch> launch(const std::string& body, const std::string& tenant = "t") {
    body_ = body;
    job_launch out{parse_eval_body(body_, settings_, true), body_, false, {}, tenant};
    co_await resolve_named_scripts(out.request, scripts(), tenant);
    co_return out;
  }

  net::awaitable<job_submitted> submit_keyed(const std::string& body, const std::string& key,
                                             const std::string& tenant = "t",
                                             std::uint32_t max_active = 0) {
    job_launch l = co_await launch(body, tenant);
    l.idempotency_key = key;
    l.max_active = max_active;
    co_return co_await jobs().submit(std::move(l));
  }

  net::awaitable<std::string> submit(const std::string& body) {
    job_launch l = co_await launch(body);
    job_submitted made = co_await jobs().submit(std::move(l));
    co_return made.id;
  }

  // Reads the job until `done(view)` holds (or 30 s pass).
  net::awaitable<job_view> until(const std::string& id, std::function<bool(const job_view&)> done) {
    net::steady_timer t(worker_->context());
    std::optional<job_view> v;
    for (int i = 0; i < 600; ++i) {
      v = co_await jobs().get(id);
      if (v && done(*v)) {
        co_return *v;
      }
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_awaitable);
    }
    throw std::runtime_error("job " + id + " never reached the state; last " +
                             (v ? v->status : std::string("(gone)")));
  }

  job_store& jobs() { return stores_->jobs(*worker_); }
  script_store& scripts() { return stores_->scripts(*worker_); }

  config::settings settings_;
  std::unique_ptr<test::redis_server> redis_;
  std::atomic<std::uint32_t> open_{0};
  std::unique_ptr<worker> worker_;
  std::unique_ptr<backend> stores_;
  std::string body_;
};

bool finished(const job_view& v) {
  return v.status != "queued" && v.status != "running";
}

TEST_P(StoreContract, AJobRunsToDoneAndEveryReadAgrees) {
  run([&]() -> net::awaitable<void> {
    const auto id = co_await submit(R"({"workload":"factor","n":"360"})");
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    const auto first = co_await jobs().get(id);
    EXPECT_TRUE(first.has_value()) << "read-your-writes: the job exists at once";
    const auto v = co_await until(id, finished);
    EXPECT_EQ(v.status, "done");
    EXPECT_EQ(v.progress, 1.0);
    EXPECT_TRUE(v.started_ms && v.finished_ms);
    EXPECT_LE(v.submitted_ms, v.started_ms.value_or(0));
    EXPECT_LE(v.started_ms.value_or(0), v.finished_ms.value_or(0));
    EXPECT_EQ(json::parse(v.result)["factors"], json::parse(R"(["2","2","2","3","3","5"])"));
    const auto second = co_await submit(R"({"workload":"prime","n":"97"})");
    co_await until(second, finished);
    const auto list = co_await jobs().newest(10, "");
    EXPECT_EQ(list.size(), 2u);
    if (list.size() == 2) {
      EXPECT_EQ(list[0].id, second) << "newest first";
      EXPECT_EQ(list[1].id, id);
    }
    const auto counts = co_await jobs().overview();
    EXPECT_TRUE(counts.reachable);
    std::uint64_t done = 0;
    for (const auto& [status, n] : counts.by_status) {
      done += status == "done" ? n : 0;
    }
    EXPECT_EQ(done, 2u);
  });
}

TEST_P(StoreContract, AFailingJobKeepsItsErrorAndAnExpiredOneSaysSo) {
  run([&]() -> net::awaitable<void> {
    const auto bad =
        co_await submit(R"j({"workload":"script","source":"error('no luck')","input":1})j");
    const auto v = co_await until(bad, finished);
    EXPECT_EQ(v.status, "failed");
    EXPECT_EQ(json::parse(v.result)["error"]["code"], "script_error");
    // The largest 64-bit prime by trial division takes seconds; 50 ms is its deadline.
    const auto slow = co_await submit(
        R"({"workload":"prime","n":"18446744073709551557","method":"trial","timeout_ms":50})");
    const auto e = co_await until(slow, finished);
    EXPECT_EQ(e.status, "expired");
    EXPECT_EQ(json::parse(e.result)["error"]["code"], "deadline_exceeded");
  });
}

TEST_P(StoreContract, DeleteCancelsARunningJobAndRemovesAFinishedOne) {
  run([&]() -> net::awaitable<void> {
    const auto id =
        co_await submit(R"({"workload":"prime","n":"18446744073709551557","method":"trial"})");
    co_await until(id, [](const job_view& v) { return v.status == "running"; });
    const auto cancelled = co_await jobs().cancel(id);
    EXPECT_TRUE(cancelled.has_value());
    const auto v = co_await until(id, finished);
    EXPECT_EQ(v.status, "cancelled");
    EXPECT_LT(v.progress, 1.0);
    const auto removed = co_await jobs().cancel(id);
    EXPECT_TRUE(removed.has_value()) << "the job as it was left";
    EXPECT_EQ(removed ? removed->status : "", "cancelled");
    EXPECT_FALSE(co_await jobs().get(id)) << "a finished job is gone after DELETE";
    EXPECT_FALSE(co_await jobs().cancel(std::string(32, 'f')));
    EXPECT_FALSE(co_await jobs().get(std::string(32, 'f')));
  });
}

TEST_P(StoreContract, AnIdempotencyKeyReplaysItsJobWhileTheJobIsKept) {
  run([&]() -> net::awaitable<void> {
    const std::string body = R"({"workload":"factor","n":"360"})";
    const auto first = co_await submit_keyed(body, "key-1");
    EXPECT_FALSE(first.replayed);
    EXPECT_EQ(first.status, "queued");
    const auto again = co_await submit_keyed(body, "key-1");
    EXPECT_TRUE(again.replayed);
    EXPECT_EQ(again.id, first.id) << "a retry with the key gets the same job";
    const auto other = co_await submit_keyed(body, "key-2");
    EXPECT_FALSE(other.replayed);
    EXPECT_NE(other.id, first.id);
    int code = 0;
    std::string error;
    try {
      co_await submit_keyed(R"({"workload":"factor","n":"361"})", "key-1");
    } catch (const http_error& e) {
      code = static_cast<int>(e.status);
      error = e.code;
    }
    EXPECT_EQ(code, 422) << "the key with a different body";
    EXPECT_EQ(error, "idempotency_key_reused");
    // A split job (a map of many items) the same way.
    std::string items;
    for (int i = 0; i < 64; ++i) {
      items += (i ? "," : "") + std::to_string(i);
    }
    const std::string map =
        R"({"workload":"script","source":"return input + 1","inputs":[)" + items + "]}";
    const auto m1 = co_await submit_keyed(map, "key-3");
    const auto m2 = co_await submit_keyed(map, "key-3");
    EXPECT_TRUE(m2.replayed);
    EXPECT_EQ(m2.id, m1.id);
    // Finished, the replay says so; deleted, the key is free for a new job.
    co_await until(first.id, finished);
    const auto done = co_await submit_keyed(body, "key-1");
    EXPECT_EQ(done.id, first.id);
    EXPECT_EQ(done.status, "done");
    EXPECT_TRUE(co_await jobs().cancel(first.id));
    const auto fresh = co_await submit_keyed(body, "key-1");
    EXPECT_FALSE(fresh.replayed);
    EXPECT_NE(fresh.id, first.id);
    const auto list = co_await jobs().newest(10, "");
    EXPECT_EQ(list.size(), 3u) << "key-1 (the new one), key-2, key-3; replays queued nothing";
  });
}

TEST_P(StoreContract, AJobKeepsItsTenantAndListsAndKeysArePerTenant) {
  run([&]() -> net::awaitable<void> {
    const std::string body = R"({"workload":"prime","n":"97"})";
    const auto a1 = co_await submit_keyed(body, "", "tenant-a");
    const auto b1 = co_await submit_keyed(body, "", "tenant-b");
    const auto a2 = co_await submit_keyed(body, "k", "tenant-a");
    const auto b2 = co_await submit_keyed(body, "k", "tenant-b");
    EXPECT_NE(b2.id, a2.id) << "the same key in another tenant is another job";
    EXPECT_FALSE(b2.replayed);
    const auto view = co_await jobs().get(b1.id);
    EXPECT_EQ(view ? view->tenant : "", "tenant-b");
    const auto only_a = co_await jobs().newest(10, "tenant-a");
    EXPECT_EQ(only_a.size(), 2u);
    for (const auto& v : only_a) {
      EXPECT_EQ(v.tenant, "tenant-a");
      EXPECT_TRUE(v.id == a1.id || v.id == a2.id) << v.id;
    }
    const auto all = co_await jobs().newest(10, "");
    EXPECT_EQ(all.size(), 4u);
  });
}

TEST_P(StoreContract, ScriptWritesJudgeTheirConditionAgainstTheStoredScript) {
  run([&]() -> net::awaitable<void> {
    const auto none = [](const script_entry* e) { return e == nullptr; };
    EXPECT_EQ(co_await scripts().write("t/double", "return input * 2", none, {}),
              write_result::created);
    auto catalog = co_await scripts().current();  // read-your-writes
    const script_entry* first = catalog->find("t/double");
    if (first == nullptr) {
      ADD_FAILURE() << "the script just written is not there";
      co_return;
    }
    EXPECT_EQ(*first->source, "return input * 2");
    EXPECT_EQ(first->etag, script_etag("t/double", "return input * 2"));
    EXPECT_EQ(co_await scripts().write("t/double", "return 0", none, {}),
              write_result::precondition_failed)
        << "create-only when it exists";
    const std::string etag = first->etag;
    const auto same_etag = [etag](const script_entry* e) { return e && e->etag == etag; };
    EXPECT_EQ(co_await scripts().write("t/double", "return input + input", same_etag, {}),
              write_result::replaced);
    EXPECT_EQ(co_await scripts().write("t/double", "return 1", same_etag, {}),
              write_result::precondition_failed)
        << "compare-and-set on the version the condition saw";
    const auto now = co_await scripts().current();
    EXPECT_EQ(now->find("t/double") ? *now->find("t/double")->source : "", "return input + input");
    EXPECT_EQ(co_await scripts().write("t/double", std::nullopt, {}, {}), write_result::deleted);
    EXPECT_EQ((co_await scripts().current())->find("t/double"), nullptr);
    EXPECT_EQ(co_await scripts().write("t/double", std::nullopt, {}, {}), write_result::absent);
  });
}

TEST_P(StoreContract, AtMostMaxNamedScriptsAndReplacingOneIsNotANewName) {
  run([&]() -> net::awaitable<void> {
    for (const char* name : {"t/a", "t/b", "t/c"}) {
      EXPECT_EQ(co_await scripts().write(name, "return 1", {}, {}), write_result::created);
    }
    EXPECT_EQ(co_await scripts().write("u/d", "return 1", {}, {}), write_result::full);
    EXPECT_EQ(co_await scripts().write("t/c", "return 2", {}, {}), write_result::replaced);
    const auto catalog = co_await scripts().current();
    EXPECT_EQ(catalog->entries.size(), 3u);
    EXPECT_EQ(catalog->find("u/d"), nullptr);
  });
}

TEST_P(StoreContract, ARequestsNamedScriptsResolveWithOneCall) {
  run([&]() -> net::awaitable<void> {
    co_await scripts().write("t/double", "return input * 2", {}, {});
    auto er = parse_eval_body(R"({"workload":"script","script":"double","input":21})", settings_);
    EXPECT_EQ(er.script_names, std::vector<std::string>{"double"});
    EXPECT_EQ(er.items.front().script->source, nullptr) << "parsing reads no store";
    co_await resolve_named_scripts(er, scripts(), "t");
    const auto& bound = er.items.front().script->source;
    EXPECT_EQ(bound ? *bound : "(unbound)", "return input * 2");
    // A batch: a missing name fails its item only; a single script fails whole.
    auto batch = parse_eval_body(
        R"({"items":[{"workload":"script","script":"double","input":1},)"
        R"({"workload":"script","script":"nope","input":1},{"workload":"prime","n":"7"}]})",
        settings_);
    EXPECT_EQ(batch.script_names, (std::vector<std::string>{"double", "nope"}));
    co_await resolve_named_scripts(batch, scripts(), "t");
    EXPECT_EQ(batch.items[0].what, eval_item::kind::script);
    EXPECT_EQ(batch.items[1].what, eval_item::kind::invalid);
    EXPECT_EQ(batch.items[1].failure ? batch.items[1].failure->code : "", "script_not_found");
    auto single = parse_eval_body(R"({"workload":"script","script":"nope"})", settings_);
    bool not_found = false;
    try {
      co_await resolve_named_scripts(single, scripts(), "t");
    } catch (const http_error& e) {
      not_found = e.code == "script_not_found" && e.status == http::status::not_found;
    }
    EXPECT_TRUE(not_found);
    // A launched job runs the named script as the store has it.
    const auto id = co_await submit(R"({"workload":"script","script":"double","input":21})");
    const auto v = co_await until(id, finished);
    EXPECT_EQ(v.status, "done");
    EXPECT_EQ(json::parse(v.result)["result"], 42);
  });
}

TEST_P(StoreContract, ANameResolvesToTheCallersOwnScriptThenTheSharedOne) {
  run([&]() -> net::awaitable<void> {
    EXPECT_EQ(co_await scripts().write("shared/double", "return input * 3", {}, {}),
              write_result::created);
    EXPECT_EQ(co_await scripts().write("t/double", "return input * 2", {}, {}),
              write_result::created);
    EXPECT_EQ(co_await scripts().write("shared/inc", "return input + 1", {}, {}),
              write_result::created);
    const auto catalog = co_await scripts().current();
    const script_entry* own = catalog->resolve("t", "double");
    const script_entry* shared = catalog->resolve("u", "double");
    EXPECT_EQ(own ? own->name : "", "t/double");
    EXPECT_EQ(shared ? shared->name : "", "shared/double");
    EXPECT_EQ(catalog->resolve("t", "inc") ? catalog->resolve("t", "inc")->name : "", "shared/inc");
    EXPECT_EQ(catalog->resolve("t", "nope"), nullptr);
    // A launched job binds its names as its owner calls them, on whichever node runs it.
    const std::string body = R"({"workload":"script","script":"double","input":21})";
    const auto mine = co_await submit_keyed(body, "", "t");
    const auto theirs = co_await submit_keyed(body, "", "u");
    const auto a = co_await until(mine.id, finished);
    const auto b = co_await until(theirs.id, finished);
    EXPECT_EQ(a.status == "done" ? json::parse(a.result)["result"] : json(), 42);
    EXPECT_EQ(b.status == "done" ? json::parse(b.result)["result"] : json(), 63);
  });
}

TEST_P(StoreContract, ANamespaceKeepsToItsCountAndBytes) {
  run([&]() -> net::awaitable<void> {
    const script_store::quota two{2, 0};
    EXPECT_EQ(co_await scripts().write("t/a", "return 1", {}, two), write_result::created);
    EXPECT_EQ(co_await scripts().write("t/b", "return 2", {}, two), write_result::created);
    EXPECT_EQ(co_await scripts().write("t/c", "return 3", {}, two), write_result::over_count);
    EXPECT_EQ(co_await scripts().write("t/a", "return 11", {}, two), write_result::replaced)
        << "replacing one is not a new script";
    EXPECT_EQ(co_await scripts().write("u/c", "return 3", {}, two), write_result::created)
        << "another namespace has its own count";
    // 9 + 8 bytes stored in t; under a cap of 20, a may grow to 11 bytes but not to 14.
    const script_store::quota bytes{0, 20};
    EXPECT_EQ(co_await scripts().write("t/a", "return 1111111", {}, bytes),
              write_result::over_bytes);
    EXPECT_EQ(co_await scripts().write("t/a", "return 1111", {}, bytes), write_result::replaced);
    const auto catalog = co_await scripts().current();
    EXPECT_EQ(catalog->usage("t"), (std::pair<std::uint64_t, std::uint64_t>{2, 19}));
    EXPECT_EQ(catalog->find("t/c"), nullptr);
  });
}

TEST_P(StoreContract, ATenantsNewJobsStopAtItsCapUntilOneEnds) {
  run([&]() -> net::awaitable<void> {
    // Loops until cancelled (or for its 30 s cap): queued or running while the test looks.
    const std::string endless =
        R"({"workload":"script","source":"while true do end","timeout_ms":30000})";
    const auto first = co_await submit_keyed(endless, "k1", "t", 1);
    std::optional<http_error> refused;
    try {
      co_await submit_keyed(endless, "", "t", 1);
    } catch (const http_error& e) {
      refused = e;
    }
    EXPECT_TRUE(refused.has_value()) << "a second job past max_jobs 1";
    if (refused) {
      EXPECT_EQ(refused->status, http::status::too_many_requests);
      EXPECT_EQ(refused->code, "quota_exceeded");
      EXPECT_EQ(refused->retry_after, "1");
    }
    const auto replay = co_await submit_keyed(endless, "k1", "t", 1);
    EXPECT_TRUE(replay.replayed) << "a retry of the job it has is no new job";
    EXPECT_EQ(replay.id, first.id);
    const auto other = co_await submit_keyed(endless, "", "u", 1);
    EXPECT_FALSE(other.replayed) << "another tenant has its own cap";
    co_await jobs().cancel(first.id);
    co_await until(first.id, finished);
    const auto next = co_await submit_keyed(endless, "", "t", 1);
    EXPECT_NE(next.id, first.id) << "the cap frees once the job ended";
    co_await jobs().cancel(next.id);
    co_await jobs().cancel(other.id);
    co_await until(next.id, finished);
    co_await until(other.id, finished);
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("memory", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
