// POST /eval-launch and /jobs: launch, progress, result, list, cancel, expiry, bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

http_response request(std::uint16_t port, const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& headers = "") {
  http_client c(port);
  std::string raw =
      method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers;
  if (!body.empty()) {
    raw +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  c.send(raw + "\r\n" + body);
  auto res = c.read_response();
  if (!res) {
    throw std::runtime_error("no response");
  }
  return *res;
}

std::string launch(std::uint16_t port, const std::string& body) {
  const auto res = request(port, "POST", "/eval-launch", body);
  EXPECT_EQ(res.status, 202) << res.body;
  const json j = json::parse(res.body);
  EXPECT_EQ(j["status"], "queued");
  EXPECT_EQ(res.header("Location"), "/jobs/" + j["id"].get<std::string>());
  EXPECT_EQ(j["href"], res.header("Location"));
  return j["id"];
}

// Polls GET /jobs/<id> until `done(job)` or 20 s.
json wait_for(std::uint16_t port, const std::string& id,
              const std::function<bool(const json&)>& done) {
  const auto until = steady::now() + 20s;
  json j;
  while (steady::now() < until) {
    j = json::parse(request(port, "GET", "/jobs/" + id).body);
    if (done(j)) {
      break;
    }
    std::this_thread::sleep_for(20ms);  // polling interval of a client
  }
  return j;
}

const std::string slow_item = R"({"workload":"prime","n":"18446744073709551557","method":"trial"})";

}  // namespace

TEST(Jobs, LaunchRunsToDoneWithTheEvalResult) {
  evald_process server;
  const std::string id = launch(server.port(), R"({"items":[{"workload":"factor","n":"12"},
      {"workload":"prime","n":"100109100129100151","method":"trial"}]})");
  EXPECT_EQ(id.size(), 32U);
  const json j = wait_for(server.port(), id, [](const json& x) { return x["status"] == "done"; });
  ASSERT_EQ(j["status"], "done") << j.dump();
  EXPECT_EQ(j["progress"], 1.0);
  EXPECT_TRUE(j["started"].is_string());
  EXPECT_TRUE(j["finished"].is_string());
  EXPECT_EQ(j["result"]["results"][0]["factors"], json::parse(R"(["2","2","3"])"));
  EXPECT_EQ(j["result"]["results"][1]["prime"], true);
}

TEST(Jobs, ProgressIsRealAndDeleteCancels) {
  evald_process::options opts;
  opts.threads = 1;
  evald_process server(opts);
  const std::string id = launch(server.port(), slow_item);
  const json running = wait_for(server.port(), id, [](const json& x) {
    return x["status"] == "running" && x["progress"].get<double>() > 0.05;
  });
  ASSERT_EQ(running["status"], "running") << running.dump();
  EXPECT_LT(running["progress"].get<double>(), 1.0);
  const auto del = request(server.port(), "DELETE", "/jobs/" + id);
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(json::parse(del.body)["status"], "cancelled");
  // The computation stops: the job gets a finish time and CPU time stops growing.
  const json after =
      wait_for(server.port(), id, [](const json& x) { return x["finished"].is_string(); });
  EXPECT_EQ(after["status"], "cancelled");
  EXPECT_TRUE(after["result"].is_null());
  const double cpu = server.cpu_seconds();
  std::this_thread::sleep_for(300ms);  // measurement window
  EXPECT_LT(server.cpu_seconds() - cpu, 0.1);
}

TEST(Jobs, UnknownIdIs404AndListIsNewestFirst) {
  evald_process server;
  EXPECT_EQ(request(server.port(), "GET", "/jobs/0123456789abcdef0123456789abcdef").status, 404);
  EXPECT_EQ(request(server.port(), "DELETE", "/jobs/nope").status, 404);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(launch(server.port(), R"({"workload":"factor","n":"97"})"));
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3U);
  const json list = json::parse(request(server.port(), "GET", "/jobs").body)["jobs"];
  ASSERT_EQ(list.size(), 3U);
  EXPECT_EQ(list[0]["id"], ids[2]);
  EXPECT_EQ(list[2]["id"], ids[0]);
  EXPECT_FALSE(list[0].contains("result"));
  EXPECT_EQ(request(server.port(), "POST", "/eval-launch", "{").status, 400);  // checked up front
}

TEST(Jobs, AnIdempotencyKeyMakesARetryReturnTheSameJob) {
  evald_process server;
  const std::string body = R"({"workload":"factor","n":"360"})";
  const std::string key = "Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"\r\n";
  const auto first = request(server.port(), "POST", "/eval-launch", body, key);
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_FALSE(first.has_header("Idempotent-Replayed"));
  const std::string id = json::parse(first.body)["id"];
  const auto retry = request(server.port(), "POST", "/eval-launch", body, key);
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(json::parse(retry.body)["id"], id);
  EXPECT_EQ(retry.header("Location"), "/jobs/" + id);
  EXPECT_EQ(retry.header("Idempotent-Replayed"), "true");
  // The same key bare (unquoted) is the same key.
  const auto bare = request(server.port(), "POST", "/eval-launch", body,
                            "Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324\r\n");
  EXPECT_EQ(json::parse(bare.body)["id"], id);
  // The key with another body, or another ?timeout_ms=: 422 naming the mistake.
  for (const auto& [target, other] : std::vector<std::pair<std::string, std::string>>{
           {"/eval-launch", R"({"workload":"factor","n":"361"})"},
           {"/eval-launch?timeout_ms=500", body}}) {
    const auto reused = request(server.port(), "POST", target, other, key);
    EXPECT_EQ(reused.status, 422) << reused.body;
    EXPECT_EQ(json::parse(reused.body)["error"]["code"], "idempotency_key_reused");
  }
  // Bad keys: 400 with the reason.
  for (const std::string& bad : std::vector<std::string>{
           "Idempotency-Key: \"\"\r\n", "Idempotency-Key: \"open\r\n", "Idempotency-Key: a b\r\n",
           "Idempotency-Key: " + std::string(300, 'k') + "\r\n",
           "Idempotency-Key: one\r\nIdempotency-Key: two\r\n"}) {
    const auto res = request(server.port(), "POST", "/eval-launch", body, bad);
    EXPECT_EQ(res.status, 400) << bad;
    EXPECT_EQ(json::parse(res.body)["error"]["code"], "bad_idempotency_key") << res.body;
  }
  const json list = json::parse(request(server.port(), "GET", "/jobs").body)["jobs"];
  EXPECT_EQ(list.size(), 1U) << "the retries queued nothing";
}

TEST(Jobs, DeadlineExpiresAJob) {
  evald_process server;
  const std::string id =
      launch(server.port(),
             R"({"workload":"prime","n":"18446744073709551557","method":"trial","timeout_ms":50})");
  const json j =
      wait_for(server.port(), id, [](const json& x) { return x["finished"].is_string(); });
  EXPECT_EQ(j["status"], "expired") << j.dump();
  EXPECT_EQ(j["result"]["error"]["code"], "deadline_exceeded");
}

TEST(Jobs, StoreIsBoundedAndFinishedJobsAreForgotten) {
  evald_process::options opts;
  opts.config_json = R"({"jobs": {"max": 2, "ttl": "2s"}})";  // headroom for slow builds
  evald_process server(opts);
  const std::string a = launch(server.port(), R"({"workload":"factor","n":"15"})");
  launch(server.port(), R"({"workload":"factor","n":"21"})");
  const auto full =
      request(server.port(), "POST", "/eval-launch", R"({"workload":"factor","n":"35"})");
  EXPECT_EQ(full.status, 503);
  EXPECT_FALSE(full.header("Retry-After").empty());
  // After the TTL the finished jobs are gone, and there is room again.
  const auto until = steady::now() + 10s;
  int status = 200;
  while (steady::now() < until) {
    status = request(server.port(), "GET", "/jobs/" + a).status;
    if (status == 404) {
      break;
    }
    std::this_thread::sleep_for(50ms);  // polling interval
  }
  EXPECT_EQ(status, 404);
  EXPECT_EQ(
      request(server.port(), "POST", "/eval-launch", R"({"workload":"factor","n":"35"})").status,
      202);
}

TEST(Jobs, DrainCancelsRunningJobsInsteadOfDroppingThem) {
  evald_process server;
  const auto port = server.port();
  const std::string id = launch(port, slow_item);
  const json running = wait_for(port, id, [](const json& j) { return j["status"] == "running"; });
  ASSERT_EQ(running["status"], "running");
  const auto t0 = steady::now();
  EXPECT_EQ(server.stop(), 0);
  // The job stops at its next chunk: the exit does not wait for it to finish.
  EXPECT_LT(steady::now() - t0, 5s);
  EXPECT_NE(server.stderr_text().find("job " + id + " cancelled by the shutdown"),
            std::string::npos)
      << server.stderr_text();
}
