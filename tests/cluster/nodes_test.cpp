// Cluster mode with real processes: a redis-server (AOF on) and evald nodes with
// --threads 1, started and stopped by PID. A job launched on one node runs
// somewhere and is read on every node; DELETE from another node stops it; kill -9
// of the running node, SIGSTOP past the lease (the late owner's writes are refused),
// and Redis down (503 on the job routes, everything else served) and back.
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/cluster/redis_server.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

// A prime whose trial division lasts a few seconds on one worker of this build: the
// largest 64-bit prime where an 18-digit one is quick (release, dev), the 18-digit
// one itself under a sanitizer (10-20x slower).
std::string long_prime(std::uint16_t port) {
  const auto t0 = std::chrono::steady_clock::now();
  http_client c(port, std::chrono::seconds(120));
  c.send("GET /prime?n=100109100129100151&method=trial HTTP/1.1\r\nHost: x\r\n\r\n");
  (void)c.read_response();
  return std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500)
             ? "18446744073709551557"
             : "100109100129100151";
}

std::string coreutils_factor(const std::string& n) {
  std::string out;
  if (FILE* p = ::popen(("factor " + n).c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
      out += buf;
    }
    ::pclose(p);
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

std::string request_text(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& headers = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + headers;
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return req + "\r\n" + body;
}

http_response send(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = "") {
  http_client c(port, std::chrono::seconds(10));
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  c.send(req + "\r\n" + body);
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response from " + std::to_string(port));
  }
  return *r;
}

json job(std::uint16_t port, const std::string& id) {
  const auto r = send(port, "GET", "/jobs/" + id);
  return r.status == 200 ? json::parse(r.body) : json{{"http", r.status}};
}

// Polls (with a short pause between reads) until `pred` holds or `limit` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < give_up) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling, not timing
  }
  return pred();
}

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_server::available()) {
      GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
    }
    redis_ = std::make_unique<redis_server>();
  }

  // `cluster_extra`: more members of the "cluster" object, each with a leading comma.
  // By default a job runs whole (the fence tests follow one owner); the split tests
  // set their own thresholds.
  evald_process& add_node(const std::string& name,
                          const std::string& cluster_extra = R"(,"split_time":"0s")",
                          const std::string& heartbeat = "200ms") {
    evald_process::options o;
    o.threads = 1;
    o.config_json = R"({"limits":{"max_eval_time":"5m"},"cluster":{"redis":")" + redis_->url() +
                    R"(","lease":"1500ms","heartbeat":")" + heartbeat +
                    R"(","command_timeout":"1s")" + cluster_extra + "}}";
    o.args = {"--node-id", name};
    nodes_.push_back(std::make_unique<evald_process>(o));
    names_.push_back(name);
    return *nodes_.back();
  }

  std::string launch(std::uint16_t port, const std::string& body) {
    const auto r = send(port, "POST", "/eval-launch", body);
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body).value("id", "");
  }

  // A trial division of `prime` that runs for seconds (its deadline 5 minutes away).
  std::string launch_trial(std::uint16_t port, const std::string& prime) {
    return launch(
        port, json{{"workload", "prime"}, {"n", prime}, {"method", "trial"}, {"timeout_ms", 300000}}
                  .dump());
  }

  // The node running job `id` once it runs (read through `port`), or "" after 20 s.
  static std::string running_owner(std::uint16_t port, const std::string& id) {
    std::string owner;
    const bool running = eventually(
        [&] {
          const auto j = job(port, id);
          owner = j.value("node", json(nullptr)).is_string() ? j["node"].get<std::string>() : "";
          return j.value("status", "") == "running" && !owner.empty();
        },
        std::chrono::seconds(20));
    return running ? owner : "";
  }

  // The job once it is done (read through `port`), or as it was when `limit` passed.
  static json wait_done(std::uint16_t port, const std::string& id,
                        std::chrono::milliseconds limit) {
    json done;
    eventually(
        [&] {
          done = job(port, id);
          return done.value("status", "") == "done";
        },
        limit);
    return done;
  }

  // Milliseconds from `since` until another node started job `id` (its epoch reached
  // 2), polled every 50 ms; -1 if not within `limit`. Printed as a figure.
  long long takeover_ms(const std::string& id, std::chrono::steady_clock::time_point since,
                        std::chrono::milliseconds limit) {
    const bool moved = eventually(
        [&] {
          return redis_->cli({"HGET", "evald:job:{" + id + "}", "epoch"}) == "2";
        },
        limit);
    return moved ? static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - since)
                                              .count())
                 : -1;
  }

  evald_process* node_named(const std::string& name) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) {
        return nodes_[i].get();
      }
    }
    return nullptr;
  }

  std::unique_ptr<redis_server> redis_;
  std::vector<std::unique_ptr<evald_process>> nodes_;
  std::vector<std::string> names_;
};

}  // namespace

TEST_F(Cluster, LaunchOnOneNodeReadOnEveryNodeCancelFromAnother) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  for (auto* n : {&a, &b, &c}) {
    EXPECT_EQ(send(n->port(), "GET", "/readyz").status, 200);
  }
  const std::string id = launch(
      a.port(), json{{"workload", "prime"}, {"n", "1000000007"}, {"method", "trial"}}.dump());
  const json done = wait_done(b.port(), id, std::chrono::seconds(30));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_EQ(job(c.port(), id), done) << "every node gives the same answer";
  EXPECT_EQ(done["result"]["prime"], coreutils_factor("1000000007") == "1000000007: 1000000007");
  EXPECT_NE(send(c.port(), "GET", "/jobs").body.find(id), std::string::npos);
  // The dashboard's figures on any node: jobs counted cluster-wide, the live nodes listed
  // (a new snapshot every second: polled, not timed).
  json snapshot;
  EXPECT_TRUE(eventually(
      [&] {
        snapshot = json::parse(send(b.port(), "GET", "/stats").body)["current"];
        return snapshot.is_object() && snapshot["jobs"]["scope"] == "cluster" &&
               snapshot["jobs"]["by_status"].value("done", 0) >= 1 &&
               snapshot["jobs"]["nodes"] == json::array({"node-a", "node-b", "node-c"});
      },
      std::chrono::seconds(10)))
      << snapshot.dump();
  // Each node takes its own snapshot of the live-node list: node a's may lag node b's by
  // up to a second, so its /metrics is polled too.
  std::string metrics;
  EXPECT_TRUE(eventually(
      [&] {
        metrics = send(a.port(), "GET", "/metrics").body;
        return metrics.find("evald_cluster_node_up{node=\"node-c\"} 1") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << metrics.substr(0, 2000);

  // A batch bigger than a slice's worth of reading (read in compute slices on the node
  // that runs it): every item answered, in order.
  json items = json::array();
  for (int i = 0; i < 600; ++i) {
    items.push_back({{"workload", "factor"}, {"n", std::to_string(1000000 + i)}});
  }
  const std::string batch_body = json{{"items", items}}.dump();
  ASSERT_GT(batch_body.size(), 16U * 1024);
  const std::string batch = launch(c.port(), batch_body);
  json batch_done;
  ASSERT_TRUE(eventually(
      [&] {
        batch_done = job(a.port(), batch);
        return batch_done.value("status", "") == "done";
      },
      std::chrono::seconds(30)))
      << batch_done.dump().substr(0, 400);
  ASSERT_EQ(batch_done["result"]["results"].size(), 600U);
  EXPECT_EQ(batch_done["result"]["results"][599]["n"], "1000599");
  EXPECT_EQ(batch_done["result"]["results"][0]["factors"],
            json::parse(R"(["2","2","2","2","2","2","5","5","5","5","5","5"])"));

  // A long job, cancelled from a node that may not be running it.
  const std::string slow =
      launch(b.port(), json{{"workload", "script"},
                            {"source", "local s = 0 while true do s = s + 1 end"},
                            {"timeout_ms", 60000}}
                           .dump());
  ASSERT_TRUE(eventually([&] { return job(a.port(), slow).value("status", "") == "running"; },
                         std::chrono::seconds(20)));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(send(c.port(), "DELETE", "/jobs/" + slow).status, 200);
  EXPECT_TRUE(eventually([&] { return job(a.port(), slow).value("status", "") == "cancelled"; },
                         std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{" + slow + "}:finishes"}), "1");
  // A node in cluster mode drains and exits cleanly (under ASan: no leak, no error).
  for (auto* n : {&a, &b, &c}) {
    EXPECT_EQ(n->stop(), 0) << n->stderr_text();
  }
}

// One big job across machines: a trial division split into parts that every node
// takes, for a prime (every part runs) and a semiprime (the smallest factor wins and
// the parts above it are skipped or stopped), then DELETE of a split job.
TEST_F(Cluster, OneBigTrialDivisionRunsOnEveryNodeAndStopsAtTheSmallestFactor) {
  const std::string split = R"(,"split_time":"100ms","part_time":"20ms")";
  auto& a = add_node("node-a", split);
  auto& b = add_node("node-b", split);
  auto& c = add_node("node-c", split);
  const std::string prime = long_prime(a.port());
  const bool fast = prime == "18446744073709551557";
  // p·q with p about half-way (fast builds) or a third of the way (sanitizers) to √n.
  const std::string p = fast ? "1000000007" : "100000007";
  const std::string semiprime = fast ? "4294967341064771177" : "100000007700000049";

  const auto run_to_end = [&](const std::string& n) {
    const std::string id =
        launch(b.port(), json{{"workload", "prime"}, {"n", n}, {"method", "trial"}}.dump());
    json seen;
    EXPECT_TRUE(eventually(
        [&] {
          seen = job(c.port(), id);
          return seen.value("status", "") != "queued" && seen.value("status", "") != "running";
        },
        std::chrono::seconds(120)))
        << seen.dump();
    return seen;
  };

  const json whole = run_to_end(prime);
  ASSERT_EQ(whole.value("status", ""), "done") << whole.dump();
  const json& r = whole["result"];
  EXPECT_EQ(r["prime"], coreutils_factor(prime) == prime + ": " + prime);
  EXPECT_TRUE(r["factor"].is_null());
  EXPECT_GT(r["chunks"].get<int>(), 3) << r.dump();
  EXPECT_EQ(r["chunks_run"], r["chunks"]) << "no factor: every part ran";
  EXPECT_GE(r["nodes"].size(), 2u) << "the parts ran on more than one node: " << r.dump();
  EXPECT_EQ(whole["chunks_done"], whole["chunks"]);
  EXPECT_DOUBLE_EQ(whole["progress"].get<double>(), 1.0);
  EXPECT_EQ(job(a.port(), whole["id"]), whole) << "every node gives the same answer";

  const json hit = run_to_end(semiprime);
  ASSERT_EQ(hit.value("status", ""), "done") << hit.dump();
  const std::string factored = coreutils_factor(semiprime);  // "n: p q"
  EXPECT_EQ(factored.substr(factored.find(": ") + 2, p.size()), p);
  EXPECT_EQ(hit["result"]["factor"], p) << hit.dump();
  EXPECT_FALSE(hit["result"]["prime"].get<bool>());
  EXPECT_LT(hit["result"]["chunks_run"].get<int>(), hit["result"]["chunks"].get<int>())
      << "the early exit stopped the parts above the factor: " << hit.dump();
  EXPECT_GE(hit["result"]["nodes"].size(), 2u) << hit.dump();
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{" + hit["id"].get<std::string>() + "}:finishes"}),
            "1");

  // DELETE from a node reaches every node's running parts.
  const std::string id =
      launch(a.port(), json{{"workload", "prime"}, {"n", prime}, {"method", "trial"}}.dump());
  ASSERT_TRUE(eventually([&] { return job(b.port(), id).value("chunks_done", 0) >= 1; },
                         std::chrono::seconds(30)));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(send(c.port(), "DELETE", "/jobs/" + id).status, 200);
  EXPECT_TRUE(eventually([&] { return job(a.port(), id).value("status", "") == "cancelled"; },
                         std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  // Every node is idle again: a small job runs at once.
  const json small = run_to_end("1000000007");
  EXPECT_EQ(small.value("status", ""), "done");
  for (auto* n : {&a, &b, &c}) {
    EXPECT_EQ(n->stop(), 0) << n->stderr_text();
  }
}

TEST_F(Cluster, AScriptMapIsSplitAcrossNodesAndAnsweredInInputOrder) {
  const std::string split = R"(,"split_time":"100ms","map_part_inputs":8)";
  auto& a = add_node("node-a", split);
  auto& b = add_node("node-b", split);
  add_node("node-c", split);
  json inputs = json::array();
  for (int i = 0; i < 60; ++i) {
    inputs.push_back(i);
  }
  // Each input costs a few milliseconds, so parts overlap across nodes.
  const std::string id =
      launch(a.port(), json{{"workload", "script"},
                            {"source",
                             "local s = 0 for i = 1, 200000 do s = s + i % 7 end "
                             "if input == 13 then error('unlucky') end return input * input"},
                            {"inputs", inputs}}
                           .dump());
  json seen;
  ASSERT_TRUE(eventually(
      [&] {
        seen = job(b.port(), id);
        return seen.value("status", "") == "done";
      },
      std::chrono::seconds(120)))
      << seen.dump();
  const json& r = seen["result"];
  ASSERT_EQ(r["results"].size(), 60u) << r.dump();
  for (int i = 0; i < 60; ++i) {
    if (i == 13) {
      EXPECT_TRUE(r["results"][i].contains("error")) << r["results"][i];
    } else {
      EXPECT_EQ(r["results"][i]["result"], i * i) << r["results"][i];
    }
  }
  EXPECT_EQ(r["summary"]["items"], 60);
  EXPECT_EQ(r["summary"]["failed"], 1);
  EXPECT_EQ(r["summary"]["chunks"], 8);
  EXPECT_EQ(seen["chunks"], 8);
  EXPECT_GE(r["summary"]["nodes"].size(), 2u) << r.dump();
}

TEST_F(Cluster, NamedScriptsLiveInRedisAndEveryNodeRunsTheSameOne) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  auto& c = add_node("node-c");
  const auto put = [](std::uint16_t port, const std::string& name, const std::string& source,
                      const std::string& condition = "") {
    http_client cl(port, std::chrono::seconds(10));
    cl.send("PUT /scripts/" + name + " HTTP/1.1\r\nHost: x\r\nContent-Length: " +
            std::to_string(source.size()) + "\r\n" + condition + "\r\n" + source);
    return *cl.read_response();
  };
  const auto run = [](std::uint16_t port, const std::string& name, int input) {
    return send(port, "POST", "/eval",
                json{{"workload", "script"}, {"script", name}, {"input", input}}.dump());
  };
  const auto first = put(a.port(), "scale", "return input * 2");
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string etag = first.header("ETag");
  auto r = run(b.port(), "scale", 21);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"], 42);
  // Replaced on B only if still the version A stored.
  EXPECT_EQ(put(b.port(), "scale", "return input * 3", "If-Match: " + etag + "\r\n").status, 200);
  EXPECT_EQ(json::parse(run(a.port(), "scale", 21).body)["result"], 63);
  EXPECT_EQ(put(c.port(), "scale", "return 0", "If-Match: " + etag + "\r\n").status, 412)
      << "a stale version is refused on every node";
  EXPECT_EQ(put(c.port(), "scale", "return 0", "If-None-Match: *\r\n").status, 412);
  // A launched job by name runs the same source wherever it lands.
  const std::string id =
      launch(c.port(), json{{"workload", "script"}, {"script", "scale"}, {"input", 5}}.dump());
  const json done = wait_done(a.port(), id, std::chrono::seconds(30));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_EQ(done["result"]["result"], 15);
  EXPECT_NE(send(b.port(), "GET", "/scripts").body.find("\"scale\""), std::string::npos);
  EXPECT_EQ(send(c.port(), "GET", "/scripts/scale").body, "return input * 3");
  EXPECT_EQ(send(a.port(), "DELETE", "/scripts/scale").status, 200);
  r = run(b.port(), "scale", 1);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("script_not_found"), std::string::npos);
}

TEST_F(Cluster, Kill9OfTheRunningNodeAnotherNodeFinishesItOnce) {
  add_node("node-a");
  add_node("node-b");
  add_node("node-c");
  const std::string big_prime = long_prime(nodes_[0]->port());
  const std::string id = launch_trial(nodes_[0]->port(), big_prime);
  const std::string owner = running_owner(nodes_[0]->port(), id);
  ASSERT_FALSE(owner.empty()) << "the job never ran";
  auto* victim = node_named(owner);
  ASSERT_NE(victim, nullptr);
  const auto killed = std::chrono::steady_clock::now();
  victim->signal(SIGKILL);
  victim->wait_exit(std::chrono::seconds(10));
  const long long moved = takeover_ms(id, killed, std::chrono::seconds(30));
  EXPECT_GE(moved, 0) << "never taken over";
  std::printf("taken over %lld ms after kill -9 of its node (lease 1500 ms)\n", moved);
  std::uint16_t survivor = 0;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != owner) {
      survivor = nodes_[i]->port();
    }
  }
  const json done = wait_done(survivor, id, std::chrono::seconds(240));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_NE(done["node"], owner) << "finished elsewhere";
  EXPECT_EQ(done["result"]["prime"], true);
  EXPECT_EQ(coreutils_factor(big_prime), big_prime + ": " + big_prime);
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{" + id + "}:finishes"}), "1") << "one final write";
  EXPECT_EQ(redis_->cli({"HGET", "evald:job:{" + id + "}", "epoch"}), "2");
}

// A rolling restart: SIGTERM of the node running a job stops it at its next slice
// and hands it back to the queue, so another node takes it at once instead of after
// the lease (30 s here), and the drain waits for the hand-back.
TEST_F(Cluster, ADrainingNodeHandsItsJobBackAtOnce) {
  std::vector<std::unique_ptr<evald_process>> nodes;
  for (const char* name : {"drain-a", "drain-b"}) {
    evald_process::options o;
    o.threads = 1;
    o.config_json = R"({"limits":{"max_eval_time":"5m"},"cluster":{"redis":")" + redis_->url() +
                    R"(","lease":"30s","heartbeat":"1s","split_time":"0s"}})";
    o.args = {"--node-id", name};
    nodes.push_back(std::make_unique<evald_process>(o));
  }
  const std::string prime = long_prime(nodes[0]->port());
  const std::string id = launch_trial(nodes[0]->port(), prime);
  const std::string key = "evald:job:{" + id + "}";
  std::string owner;
  ASSERT_TRUE(eventually(
      [&] {
        owner = redis_->cli({"HGET", key, "owner"});
        return !owner.empty() && redis_->cli({"HGET", key, "status"}) == "running";
      },
      std::chrono::seconds(20)));
  const std::size_t runner = owner == "drain-a" ? 0 : 1;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(nodes[runner]->stop(SIGTERM), 0) << nodes[runner]->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5))
      << "the drain waits for the hand-back, not for the job";
  EXPECT_NE(nodes[runner]->stderr_text().find("handed back to the queue by the drain"),
            std::string::npos)
      << nodes[runner]->stderr_text();
  const long long moved = takeover_ms(id, t0, std::chrono::seconds(20));
  EXPECT_GE(moved, 0) << "not taken over before the lease";
  std::printf("taken over %lld ms after SIGTERM of its node (lease 30 s)\n", moved);
  const json done = wait_done(nodes[1 - runner]->port(), id, std::chrono::seconds(120));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  // Taken over at once, not after the 30 s lease (the job itself runs a few seconds).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(25));
  EXPECT_EQ(done["node"], owner == "drain-a" ? "drain-b" : "drain-a");
  EXPECT_EQ(done["result"]["prime"], true);
  EXPECT_EQ(redis_->cli({"HGET", key, "epoch"}), "2");
  EXPECT_EQ(redis_->cli({"LLEN", key + ":finishes"}), "1");
}

TEST_F(Cluster, AFrozenOwnerComesBackAndItsWritesAreRefused) {
  add_node("node-a");
  add_node("node-b");
  const std::string big_prime = long_prime(nodes_[0]->port());
  const std::string id = launch_trial(nodes_[0]->port(), big_prime);
  const std::string owner = running_owner(nodes_[0]->port(), id);
  ASSERT_FALSE(owner.empty()) << "the job never ran";
  auto* frozen = node_named(owner);
  const std::uint16_t other = names_[0] == owner ? nodes_[1]->port() : nodes_[0]->port();
  const auto stopped = std::chrono::steady_clock::now();
  frozen->signal(SIGSTOP);
  // Past the lease the other node claims it (epoch 2).
  const long long moved = takeover_ms(id, stopped, std::chrono::seconds(30));
  frozen->signal(SIGCONT);
  ASSERT_GE(moved, 0);
  std::printf("taken over %lld ms after SIGSTOP of its node (lease 1500 ms)\n", moved);
  // The late owner's next heartbeat (or result) is refused and counted.
  EXPECT_TRUE(eventually(
      [&] {
        return metric_total(scrape_metrics(frozen->port()), "evald_cluster_stale_writes_total") >=
               1;
      },
      std::chrono::seconds(20)));
  const json done = wait_done(other, id, std::chrono::seconds(240));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_NE(done["node"], owner) << "the result is the new owner's";
  EXPECT_EQ(redis_->cli({"LLEN", "evald:job:{" + id + "}:finishes"}), "1");
}

TEST_F(Cluster, RedisDownJobRoutesAre503EverythingElseServesAndNothingAcceptedIsLost) {
  auto& a = add_node("node-a");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(launch(a.port(), R"({"workload":"prime","n":"97"})"));
  }
  redis_->kill9();
  EXPECT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 503; },
                         std::chrono::seconds(10)));
  const auto refused = send(a.port(), "POST", "/eval-launch", R"({"workload":"prime","n":"7"})");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_NE(refused.body.find("cluster_unavailable"), std::string::npos);
  EXPECT_EQ(send(a.port(), "GET", "/jobs").status, 503);
  EXPECT_EQ(send(a.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(send(a.port(), "GET", "/prime?n=97").status, 200);
  EXPECT_EQ(send(a.port(), "POST", "/eval", R"({"workload":"factor","n":"12"})").status, 200);
  redis_->restart();  // the same AOF
  EXPECT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(20)));
  for (const auto& id : ids) {
    EXPECT_EQ(redis_->cli({"EXISTS", "evald:job:{" + id + "}"}), "1") << "lost " << id;
  }
  for (const auto& id : ids) {
    EXPECT_TRUE(eventually([&] { return job(a.port(), id).value("status", "") == "done"; },
                           std::chrono::seconds(30)))
        << id;
  }
}

namespace {

// Sanitizer builds run trial division 10-20x slower: a smaller prime keeps the job a
// few seconds long.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif

// A network namespace with a veth pair to the host, made for one test and deleted
// after it: 10.251.<n>.1 on the host side, 10.251.<n>.2 inside.
class network_namespace {
 public:
  network_namespace() {
    const int n = 1 + ::getpid() % 250;
    name_ = "evald-pt" + std::to_string(::getpid());
    host_if_ = "evh" + std::to_string(::getpid() % 100000);
    host_ip_ = "10.251." + std::to_string(n) + ".1";
    inner_ip_ = "10.251." + std::to_string(n) + ".2";
    ok_ = sh("ip netns add " + name_) &&
          sh("ip link add " + host_if_ + " type veth peer name evn0 netns " + name_) &&
          sh("ip addr add " + host_ip_ + "/30 dev " + host_if_) &&
          sh("ip link set " + host_if_ + " up") &&
          sh("ip -n " + name_ + " addr add " + inner_ip_ + "/30 dev evn0") &&
          sh("ip -n " + name_ + " link set evn0 up") && sh("ip -n " + name_ + " link set lo up");
    wrapper_ = write_temp_file("#!/bin/sh\nexec ip netns exec " + name_ + " \"$@\"\n", ".sh");
    ::chmod(wrapper_.c_str(), 0755);
  }
  ~network_namespace() {
    sh("ip link del " + host_if_);
    sh("ip netns del " + name_);
    ::unlink(wrapper_.c_str());
  }
  bool ok() const { return ok_; }
  void link(bool up) { sh("ip -n " + name_ + " link set evn0 " + (up ? "up" : "down")); }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& inner_ip() const { return inner_ip_; }
  const std::string& wrapper() const { return wrapper_; }

 private:
  static bool sh(const std::string& cmd) {
    return std::system((cmd + " 2>/dev/null").c_str()) == 0;
  }
  std::string name_, host_if_, host_ip_, inner_ip_, wrapper_;
  bool ok_ = false;
};

}  // namespace

// A real partition: a node in a network namespace runs a job, its link goes down,
// a node on the host takes the job over after the lease and finishes it; when the
// link comes back, the cut-off node's writes are refused.
TEST_F(Cluster, APartitionedNodeLosesItsJobAndCannotWriteWhenItComesBack) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "network namespaces need root";
  }
  network_namespace ns;
  if (!ns.ok()) {
    GTEST_SKIP() << "cannot create a network namespace with a veth pair here";
  }
  // Redis listens on the host side of the veth too.
  redis_ = std::make_unique<redis_server>(
      std::vector<std::string>{"--bind", "127.0.0.1", ns.host_ip(), "--protected-mode", "no"});
  const std::string url = "redis://" + ns.host_ip() + ":" + std::to_string(redis_->port());
  const std::uint16_t inner_port = 20000 + ::getpid() % 20000;
  evald_process::options o;
  o.threads = 1;
  o.config_json = R"({"limits":{"max_eval_time":"5m"},"cluster":{"redis":")" + url +
                  R"(","lease":"1500ms","heartbeat":"200ms","command_timeout":"500ms",)"
                  R"("split_time":"0s"},)"
                  // Not loopback: without keys, anonymous clients must be allowed explicitly.
                  R"("auth":{"anonymous":["admin"]}})";
  o.args = {"--node-id", "cut-off", "--listen", ns.inner_ip() + ":" + std::to_string(inner_port)};
  ::setenv("EVALD_TEST_WRAPPER", ns.wrapper().c_str(), 1);
  auto inner = std::make_unique<evald_process>(o);
  ::unsetenv("EVALD_TEST_WRAPPER");
  const auto inner_get = [&](const std::string& target) {
    return std::system(("curl -s -m 2 -o /dev/null http://" + ns.inner_ip() + ":" +
                        std::to_string(inner_port) + target)
                           .c_str());
  };
  ASSERT_EQ(inner_get("/healthz"), 0) << "the node in the namespace is not reachable";
  // The job starts on the only node there is: the one in the namespace.
  const std::string body = json{
      {"workload", "prime"},
      {"n", "18446744073709551557"},
      {"method", "trial"},
      {"timeout_ms", 300000}}.dump();
  const std::string launched = redis_->cli({"PING"});  // Redis is up
  ASSERT_EQ(launched, "PONG");
  std::string id;
  {
    const std::string cmd = "curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '" + body +
                            "' http://" + ns.inner_ip() + ":" + std::to_string(inner_port) +
                            "/eval-launch";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p) != nullptr) {
        out += buf;
      }
      ::pclose(p);
    }
    id = json::parse(out, nullptr, false).value("id", "");
  }
  ASSERT_FALSE(id.empty());
  const std::string key = "evald:job:{" + id + "}";
  ASSERT_TRUE(eventually(
      [&] {
        return redis_->cli({"HGET", key, "owner"}) == "cut-off";
      },
      std::chrono::seconds(20)));
  auto& host_node = add_node("on-host");
  ns.link(false);  // the partition
  EXPECT_TRUE(eventually(
      [&] {
        return redis_->cli({"HGET", key, "owner"}) == "on-host";
      },
      std::chrono::seconds(30)))
      << "the host node took the job over";
  ns.link(true);
  const json done = wait_done(host_node.port(), id, std::chrono::seconds(240));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_EQ(done["node"], "on-host");
  // Back on the network, the cut-off node's heartbeat or result is refused.
  EXPECT_TRUE(eventually(
      [&] {
        std::string out;
        const std::string cmd =
            "curl -s -m 2 http://" + ns.inner_ip() + ":" + std::to_string(inner_port) + "/metrics";
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
          char buf[4096];
          while (std::fgets(buf, sizeof buf, p) != nullptr) {
            out += buf;
          }
          ::pclose(p);
        }
        return out.find("evald_cluster_stale_writes_total 0") == std::string::npos &&
               out.find("evald_cluster_stale_writes_total") != std::string::npos;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(redis_->cli({"LLEN", key + ":finishes"}), "1");
  inner.reset();
}

// Redis restarted empty (here: FLUSHALL, the same for evald): every node recreates the
// queue at once instead of failing forever, /readyz says why until then, a job whose
// data is gone is a 404 saying so, and the named scripts are Redis's again (an old
// mirror would keep serving the lost source, and answer 412 to a new PUT).
TEST_F(Cluster, ARedisThatLostItsDataIsNoticedAndTheQueueRecreated) {
  auto& a = add_node("node-a");
  auto& b = add_node("node-b");
  ASSERT_EQ(send(a.port(), "PUT", "/scripts/scale", "return input * 2").status, 201);
  const std::string old_job = launch(a.port(), R"({"workload":"prime","n":"97"})");
  ASSERT_EQ(wait_done(b.port(), old_job, std::chrono::seconds(30)).value("status", ""), "done");
  EXPECT_EQ(redis_->cli({"FLUSHALL"}), "OK");
  const auto flushed = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)))
      << send(a.port(), "GET", "/readyz").body;
  const auto ready_after = std::chrono::steady_clock::now() - flushed;
  http_response gone;
  EXPECT_TRUE(eventually(
      [&] {
        gone = send(b.port(), "GET", "/jobs/" + old_job);
        return gone.status == 404 && gone.body.find("lost its data") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << gone.status << " " << gone.body;
  EXPECT_EQ(send(b.port(), "GET", "/scripts/scale").status, 404) << "the mirror follows Redis";
  EXPECT_EQ(send(b.port(), "PUT", "/scripts/scale", "return input * 3").status, 201);
  const auto r =
      send(a.port(), "POST", "/eval", R"({"workload":"script","script":"scale","input":5})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).value("result", 0), 15) << r.body;
  const std::string fresh = launch(b.port(), R"({"workload":"factor","n":"360"})");
  EXPECT_EQ(wait_done(a.port(), fresh, std::chrono::seconds(30)).value("status", ""), "done");
  std::printf("ready again %lld ms after FLUSHALL\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(ready_after).count()));
  // Restarted empty (its AOF lost): the same recovery, once the nodes reconnect.
  redis_->restart_empty();
  const auto restarted = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually(
      [&] {
        return send(a.port(), "GET", "/readyz").status == 200 &&
               send(b.port(), "GET", "/readyz").status == 200;
      },
      std::chrono::seconds(15)));
  const auto ready_again = std::chrono::steady_clock::now() - restarted;
  EXPECT_EQ(send(a.port(), "GET", "/jobs/" + fresh).status, 404);
  const std::string after = launch(a.port(), R"({"workload":"factor","n":"391"})");
  EXPECT_EQ(wait_done(b.port(), after, std::chrono::seconds(30)).value("status", ""), "done");
  std::printf("both nodes ready again %lld ms after Redis restarted empty\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(ready_again).count()));
}

// A wrong password and a Redis out of memory are 503s that name the cause (never a
// secret), on the launch, on /readyz and in /metrics; not an opaque 500.
TEST_F(Cluster, RedisRefusalsAre503sThatNameTheCause) {
  redis_->cli({"CONFIG", "SET", "requirepass", "right-one"});
  auto& a = add_node("node-a", R"(,"split_time":"0s","password":"wrong-one")");
  const auto launched = send(a.port(), "POST", "/eval-launch", R"({"workload":"prime","n":"7"})");
  EXPECT_EQ(launched.status, 503) << launched.body;
  EXPECT_NE(launched.body.find("credentials"), std::string::npos) << launched.body;
  EXPECT_EQ(launched.body.find("wrong-one"), std::string::npos) << "no secret in the answer";
  const auto ready = send(a.port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("credentials"), std::string::npos) << ready.body;
  EXPECT_TRUE(eventually(
      [&] {
        return scrape_metrics(a.port()).count(R"(evald_cluster_store_problem{reason="auth"})") &&
               scrape_metrics(a.port()).at(R"(evald_cluster_store_problem{reason="auth"})") >= 1;
      },
      std::chrono::seconds(10)));
  // Redis is made to accept the node's password: the node tries it again by itself.
  redis_->cli({"-a", "right-one", "CONFIG", "SET", "requirepass", "wrong-one"});
  EXPECT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)))
      << "the node never retried its credentials";
  a.stop();
  redis_->cli({"-a", "wrong-one", "CONFIG", "SET", "requirepass", ""});
  // Out of memory (noeviction): the submit is refused by Redis, and the client is told.
  auto& b = add_node("node-b");
  EXPECT_TRUE(eventually([&] { return send(b.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)));
  redis_->cli({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  redis_->cli({"CONFIG", "SET", "maxmemory", "1"});
  const auto full = send(b.port(), "POST", "/eval-launch", R"({"workload":"prime","n":"7"})");
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_NE(full.body.find("out of memory"), std::string::npos) << full.body;
  redis_->cli({"CONFIG", "SET", "maxmemory", "0"});
  const std::string id = launch(b.port(), R"({"workload":"prime","n":"7"})");
  EXPECT_EQ(wait_done(b.port(), id, std::chrono::seconds(30)).value("status", ""), "done");
}

// Redis away for twice the lease while ten jobs run: each stays with its node, which
// writes its result once Redis is back; no other node (an idle third one included)
// claims and re-runs it (the reclaimers wait one lease after Redis returns; the
// owners renew at once).
TEST_F(Cluster, ARedisOutageLongerThanTheLeaseRunsNoJobTwice) {
  // A heartbeat of 750 ms (half the lease): after the outage, an owner renews up to that
  // long after its link is back, while a claimer looks every 500 ms (a third of the lease).
  const std::string extra = R"(,"split_time":"0s","jobs_per_worker":5)";
  auto& a = add_node("node-a", extra, "750ms");
  auto& b = add_node("node-b", extra, "750ms");
  const std::string prime = long_prime(a.port());
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(launch_trial(i % 2 == 0 ? a.port() : b.port(), prime));
  }
  std::map<std::string, std::string> owners;
  for (const auto& id : ids) {
    owners[id] = running_owner(a.port(), id);
    ASSERT_FALSE(owners[id].empty()) << "job " << id << " never ran";
  }
  // An idle node, free to claim any job whose lease looks expired.
  auto& c = add_node("node-c", extra, "750ms");
  EXPECT_TRUE(eventually([&] { return send(c.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)));
  redis_->kill9();
  // The outage itself is the test's input: twice the lease (1.5 s here); Redis comes
  // back from its AOF, and every node has to reconnect.
  const auto back_at = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  EXPECT_TRUE(eventually([&] { return send(b.port(), "GET", "/readyz").status == 503; },
                         std::chrono::seconds(10)))
      << "node b sees the outage";
  while (std::chrono::steady_clock::now() < back_at) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  redis_->restart();
  for (const auto& id : ids) {
    const json done = wait_done(b.port(), id, std::chrono::seconds(240));
    EXPECT_EQ(done.value("status", ""), "done") << done.dump();
    EXPECT_EQ(done.value("node", ""), owners[id]) << "written by its first node";
    const std::string key = "evald:job:{" + id + "}";
    EXPECT_EQ(redis_->cli({"HGET", key, "epoch"}), "1") << "never claimed by another node";
    EXPECT_EQ(redis_->cli({"LLEN", key + ":finishes"}), "1");
  }
}

// A launch whose answer was lost to a frozen Redis (503 after the command timeout),
// retried by the client. Redis runs the first submit when it thaws (it was in its
// socket buffer): without a key the retry makes a second job; with a key, the retry
// gets the job the first attempt made.
TEST_F(Cluster, ALaunchRetriedAfterAFrozenRedisRunsOnceWithItsIdempotencyKey) {
  auto& a = add_node("node-a");
  ASSERT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)));
  const std::string keyed = R"({"workload":"factor","n":"1001"})";
  const std::string unkeyed = R"({"workload":"factor","n":"1002"})";
  const std::string key = "Idempotency-Key: \"retry-after-freeze\"\r\n";
  redis_->pause();
  // Both launches at once, before any other command of the node times out: both are
  // written to Redis's socket, neither is answered.
  http_client first(a.port(), std::chrono::seconds(10));
  http_client second(a.port(), std::chrono::seconds(10));
  first.send(request_text("POST", "/eval-launch", keyed, key));
  second.send(request_text("POST", "/eval-launch", unkeyed));
  const auto r1 = first.read_response();
  const auto r2 = second.read_response();
  redis_->resume();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->status, 503) << r1->body;
  EXPECT_EQ(r2->status, 503) << r2->body;
  ASSERT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(20)));
  http_client retry1(a.port(), std::chrono::seconds(10));
  retry1.send(request_text("POST", "/eval-launch", keyed, key));
  const auto k = retry1.read_response();
  ASSERT_TRUE(k);
  EXPECT_EQ(k->status, 202) << k->body;
  EXPECT_EQ(k->header("Idempotent-Replayed"), "true") << "the frozen attempt made the job";
  const std::string id = json::parse(k->body).value("id", "");
  EXPECT_EQ(send(a.port(), "POST", "/eval-launch", unkeyed).status, 202);
  std::map<std::string, std::vector<std::string>> by_number;
  const auto list = send(a.port(), "GET", "/jobs");
  ASSERT_EQ(list.status, 200) << list.body;
  const json listed = json::parse(list.body);
  for (const auto& j : listed["jobs"]) {
    const std::string jid = j["id"];
    by_number[redis_->cli({"HGET", "evald:job:{" + jid + "}", "params"})].push_back(jid);
  }
  std::string seen;
  for (const auto& [params, jobs] : by_number) {
    seen += params + " ×" + std::to_string(jobs.size()) + "; ";
  }
  EXPECT_EQ(by_number[keyed], std::vector<std::string>{id})
      << "one job, the one the retry got; jobs by params: " << seen << list.body;
  EXPECT_EQ(by_number[unkeyed].size(), 2u) << "without a key, the retry ran it twice";
  EXPECT_EQ(wait_done(a.port(), id, std::chrono::seconds(30)).value("status", ""), "done");
}

// The ACL user docs/cluster.md gives (read from the file, so the documented line is the
// tested one), with the default user off: a node logged in as it runs a whole job, a
// split map (the part scripts) and named scripts; a node on the default user is
// refused with the cause named.
TEST_F(Cluster, AnAclUserLimitedToThePrefixAndCommandsRunsEverything) {
  std::ifstream doc(EVALD_SOURCE_DIR "/docs/cluster.md");
  std::string line;
  std::vector<std::string> setuser;
  while (std::getline(doc, line)) {
    const auto at = line.find("ACL SETUSER evald ");
    if (at != std::string::npos) {
      std::istringstream words(line.substr(at + 4));
      for (std::string w; words >> w;) {
        setuser.push_back(w == ">CHANGE-ME" ? ">acl-secret" : w);
      }
      break;
    }
  }
  ASSERT_GT(setuser.size(), 10u) << "docs/cluster.md lost its ACL SETUSER line";
  setuser.insert(setuser.begin(), "ACL");
  EXPECT_EQ(redis_->cli(setuser), "OK");
  EXPECT_EQ(redis_->cli({"ACL", "SETUSER", "default", "off"}), "OK");
  // The user is truly limited: another prefix, and a command evald does not use.
  const std::vector<std::string> login = {"--user", "evald", "--pass", "acl-secret",
                                          "--no-auth-warning"};
  auto as_user = [&](std::vector<std::string> cmd) {
    cmd.insert(cmd.begin(), login.begin(), login.end());
    return redis_->cli(cmd);
  };
  EXPECT_NE(as_user({"GET", "other:key"}).find("NOPERM"), std::string::npos);
  EXPECT_NE(as_user({"FLUSHALL"}).find("NOPERM"), std::string::npos);
  EXPECT_EQ(as_user({"SET", "evald:probe", "1"}), "OK");

  const std::string as_evald = R"(,"user":"evald","password":"acl-secret")";
  auto& a = add_node("node-a", R"(,"split_time":"100ms","map_part_inputs":4)" + as_evald);
  auto& b = add_node("node-b", R"(,"split_time":"100ms","map_part_inputs":4)" + as_evald);
  ASSERT_TRUE(eventually([&] { return send(a.port(), "GET", "/readyz").status == 200; },
                         std::chrono::seconds(10)))
      << a.stderr_text();
  const std::string whole = launch(a.port(), R"({"workload":"prime","n":"1000000007"})");
  EXPECT_EQ(wait_done(b.port(), whole, std::chrono::seconds(30)).value("status", ""), "done");
  json inputs = json::array();
  for (int i = 0; i < 16; ++i) {
    inputs.push_back(i);
  }
  const std::string map = launch(
      a.port(), json{{"workload", "script"},
                     {"source", "local s = 0 for i = 1, 200000 do s = s + i % 7 end return input"},
                     {"inputs", inputs}}
                    .dump());
  const json done = wait_done(b.port(), map, std::chrono::seconds(60));
  ASSERT_EQ(done.value("status", ""), "done") << done.dump();
  EXPECT_EQ(done["result"]["results"].size(), 16u);
  EXPECT_EQ(send(a.port(), "GET", "/jobs").status, 200);
  {
    http_client cl(a.port(), std::chrono::seconds(10));
    cl.send(
        "PUT /scripts/double HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\nreturn input * 2");
    const auto put = cl.read_response();
    ASSERT_TRUE(put);
    EXPECT_TRUE(put->status == 200 || put->status == 201) << put->body;
  }
  const auto ran =
      send(b.port(), "POST", "/eval", R"({"workload":"script","script":"double","input":21})");
  EXPECT_EQ(ran.status, 200) << ran.body;
  EXPECT_NE(ran.body.find("42"), std::string::npos) << ran.body;
  EXPECT_EQ(send(a.port(), "DELETE", "/jobs/" + whole).status, 200);

  // The default user is off: a node without cluster.user is refused, and says why.
  auto& c = add_node("node-c");
  EXPECT_TRUE(eventually(
      [&] {
        const auto r = send(c.port(), "GET", "/readyz");
        return r.status == 503 && r.body.find("credentials") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << send(c.port(), "GET", "/readyz").body;
}
