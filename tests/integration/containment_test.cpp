// Hostile code over HTTP, as the red-team pass sent it: the two ~80-byte requests that
// hung the server for good, their Log Detector form, the quadratic Order body and the
// random numbers one run could learn from another. Every client here has a hard 10 s
// timeout, so a regression fails fast instead of hanging CI.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/shared_server.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

constexpr auto hard_timeout = std::chrono::seconds(10);

class Containment : public shared_server<Containment> {
 public:
  static std::string config() {
    return R"({"scripts":{"condition_time":"100ms"},"limits":{"max_response_size":"4MiB"},)"
           R"("jobs":{"max_results_size":"1MiB"}})";
  }
};

http_response post(std::uint16_t port, const std::string& target, const std::string& body) {
  http_client c(port, hard_timeout);
  c.send("POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response within the hard timeout");
  }
  return *r;
}

http_response get_now(std::uint16_t port, const std::string& target) {
  http_client c(port, hard_timeout);
  c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response within the hard timeout");
  }
  return *r;
}

// The same request on `n` connections at once (one per worker, as the attack did).
std::vector<http_response> at_once(std::uint16_t port, const std::string& body, int n) {
  std::vector<std::future<http_response>> pending;
  for (int i = 0; i < n; ++i) {
    pending.push_back(std::async(std::launch::async, [=] { return post(port, "/eval", body); }));
  }
  std::vector<http_response> out;
  for (auto& f : pending) {
    out.push_back(f.get());
  }
  return out;
}

json script(const std::string& source) {
  return json{{"workload", "script"}, {"source", source}};
}

json detector_record(const std::vector<json>& conditions,
                     const std::vector<std::int64_t>& earlier = {}) {
  return {{"log", {{"Text", "x"}, {"Thread", "t"}, {"Level", "INFO"}, {"Line", 1}}},
          {"conditions", conditions},
          {"context", json::object()},
          {"trueConditions", earlier},
          {"stateTime", 1000},
          {"logProcessingTime", 1500}};
}

}  // namespace

TEST_F(Containment, TheZeroWidthRepAndMoveNoLongerHangTheServer) {
  // One per worker: before the fix, neither ever returned and /healthz never answered.
  for (const auto& r :
       at_once(port(), script("return #string.rep('', math.maxinteger)").dump(), 2)) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["result"], 0);
  }
  for (const auto& r :
       at_once(port(), script("table.move({}, 1, math.maxinteger, 1, {})").dump(), 2)) {
    ASSERT_EQ(r.status, 422) << r.body;
    const auto message = json::parse(r.body)["error"]["message"].get<std::string>();
    EXPECT_NE(message.find("table.move"), std::string::npos) << message;
    EXPECT_NE(message.find("burst limit"), std::string::npos) << message;
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(get_now(port(), "/healthz").status, 200) << "new connection " << i;
  }
}

TEST_F(Containment, TheLogDetectorFormMeetsItsConditionTime) {
  const auto r = post(
      port(), "/eval",
      json{{"payload",
            detector_record({{{"numeration", 1},
                              {"type", "Standard"},
                              {"text", "string.rep('', 1e9) return true"}},
                             {{"numeration", 2}, {"type", "Standard"}, {"text", "return true"}}})}}
          .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["trueConditions"], json::parse("[1,2]")) << r.body;
  const auto moved = post(
      port(), "/eval",
      json{{"payload",
            detector_record({{{"numeration", 1},
                              {"type", "Standard"},
                              {"text", "table.move({}, 1, math.maxinteger, 1, {}) return true"}}})}}
          .dump());
  EXPECT_EQ(moved.status, 422) << moved.body;
  EXPECT_NE(moved.body.find("table.move"), std::string::npos) << moved.body;
}

TEST_F(Containment, TheQuadraticOrderBodyIsAnsweredWithinItsTimeout) {
  // 390k true conditions and an order of 130k of one value: 36 s of one worker before.
  std::vector<std::int64_t> earlier(390000, 7);
  std::vector<std::int64_t> order(130000, 7);
  order.back() = 8;
  json body{{"payload",
             detector_record({{{"numeration", 9}, {"type", "Order"}, {"order", order}}}, earlier)},
            {"timeout_ms", 1000}};
  const auto r = post(port(), "/eval", body.dump());
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(json::parse(r.body)["trueConditions"], json::array());
  EXPECT_EQ(get_now(port(), "/healthz").status, 200);
}

TEST_F(Containment, NoTwoRunsDrawTheSameRandomNumbers) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const auto r = post(port(), "/eval", script("return math.random(1 << 50)").dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(seen.insert(json::parse(r.body)["result"].dump()).second) << r.body;
  }
  const auto t =
      post(port(), "/eval", script("return tostring({}) .. tostring(print or pairs)").dump());
  EXPECT_EQ(json::parse(t.body)["result"], "tablefunction") << t.body;
}

namespace {

http_response put_script(std::uint16_t port, const std::string& name, const std::string& source,
                         const std::string& condition) {
  http_client c(port, hard_timeout);
  c.send("PUT /scripts/" + name +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-lua\r\nContent-Length: " +
         std::to_string(source.size()) + "\r\n" + condition + "\r\n" + source);
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response within the hard timeout");
  }
  return *r;
}

// `n` PUTs of one name at once, each with its own source; the statuses.
std::multiset<int> racing_puts(std::uint16_t port, const std::string& name,
                               const std::string& condition, int n, int first) {
  std::vector<std::future<int>> pending;
  for (int i = first; i < first + n; ++i) {
    pending.push_back(std::async(std::launch::async, [=] {
      // A source that takes a while to compile widens the window between the check
      // and the write that the old code left open.
      std::string source = "local x = " + std::to_string(i) + "\n";
      for (int k = 0; k < 2000; ++k) {
        source += "x = x + " + std::to_string(k) + "\n";
      }
      return put_script(port, name, source + "return x", condition).status;
    }));
  }
  std::multiset<int> statuses;
  for (auto& f : pending) {
    statuses.insert(f.get());
  }
  return statuses;
}

}  // namespace

TEST_F(Containment, ConditionalScriptWritesAreAtomic) {
  for (int round = 0; round < 5; ++round) {
    const std::string name = "race-" + std::to_string(round);
    const auto created = racing_puts(port(), name, "If-None-Match: *\r\n", 8, 0);
    EXPECT_EQ(created.count(201), 1U) << "round " << round;
    EXPECT_EQ(created.count(412), 7U) << "round " << round;
    const auto current = get(port(), "/scripts/" + name);
    ASSERT_EQ(current.status, 200);
    const std::string etag = current.header("etag");
    ASSERT_FALSE(etag.empty());
    // Sources unlike the stored one: an identical write keeps the version, and would
    // rightly let another PUT with the same If-Match through.
    const auto replaced = racing_puts(port(), name, "If-Match: " + etag + "\r\n", 8, 100);
    EXPECT_EQ(replaced.count(200), 1U) << "round " << round;
    EXPECT_EQ(replaced.count(412), 7U) << "round " << round;
  }
}

TEST_F(Containment, DotNamesAreRefused) {
  for (const std::string name : {".", ".."}) {
    const auto r = put_script(port(), name, "return 1", "");
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
  }
}

// A worker held on purpose (a test-only hook spins in one of its compute slices until
// released) gets no new connections: every new connection is served by the worker
// that turns. Before, every other one was handed to the held worker and waited.
TEST(StalledWorker, GetsNoNewConnections) {
  evald_process::options opts;
  opts.env["EVALD_TEST_HOOKS"] = "1";
  evald_process server(opts);
  http_response held;
  for (int attempt = 0; attempt < 8; ++attempt) {
    held = post(server.port(), "/_test/hold", "");
    if (held.status != 409) {
      break;  // 409: that connection was not on worker 0; the next one is
    }
  }
  ASSERT_EQ(held.status, 200) << held.body;
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    try {
      answered += get_now(server.port(), "/healthz").status == 200 ? 1 : 0;
    } catch (const std::exception&) {
      // no answer within the hard timeout: the connection went to the held worker
    }
  }
  EXPECT_EQ(post(server.port(), "/_test/release", "").status, 200);
  EXPECT_EQ(answered, 10) << "new connections answered while a worker was held";
  EXPECT_EQ(get_now(server.port(), "/healthz").status, 200);
}

TEST_F(Containment, AWholeAnswerIsBounded) {
  // 10 inputs of 600 KB each: 6 MB, past a 4 MiB limits.max_response_size.
  json map{{"workload", "script"},
           {"source", "return string.rep('x', 600000)"},
           {"inputs", json::array({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})}};
  const auto r = post(port(), "/eval", map.dump());
  ASSERT_EQ(r.status, 413) << r.body.substr(0, 300);
  const auto error = json::parse(r.body)["error"];
  EXPECT_EQ(error["code"], "response_too_large");
  const auto message = error["message"].get<std::string>();
  EXPECT_NE(message.find("limits.max_response_size (4194304 bytes)"), std::string::npos) << message;
  EXPECT_NE(message.find("item "), std::string::npos) << message;
  map["inputs"] = json::array({1, 2, 3});
  EXPECT_EQ(post(port(), "/eval", map.dump()).status, 200);
  // The same error as a batch of script items.
  json items = json::array();
  for (int i = 0; i < 10; ++i) {
    items.push_back(script("return string.rep('y', 600000)"));
  }
  EXPECT_EQ(post(port(), "/eval", json{{"items", items}}.dump()).status, 413);
}

namespace {

// Polls a launched job until it is no longer queued or running (bounded).
json finished_job(std::uint16_t port, const std::string& id) {
  for (int i = 0; i < 2000; ++i) {
    const auto r = get_now(port, "/jobs/" + id);
    const auto j = json::parse(r.body);
    const auto status = j.value("status", "");
    if (status != "queued" && status != "running") {
      return j;
    }
  }
  return nullptr;
}

http_response request(std::uint16_t port, const std::string& method, const std::string& target) {
  http_client c(port, hard_timeout);
  c.send(method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response within the hard timeout");
  }
  return *r;
}

}  // namespace

TEST_F(Containment, LaunchedResultsHaveAStoreBudgetAndDeleteFreesThem) {
  const auto launch = [&] {
    const auto r = post(port(), "/eval-launch", script("return string.rep('z', 600000)").dump());
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body)["id"].get<std::string>();
  };
  const std::string first = launch();
  EXPECT_EQ(finished_job(port(), first)["status"], "done");
  // A second 600 KB result would pass the 1 MiB jobs.max_results_size: its job fails.
  const std::string second = launch();
  const json failed = finished_job(port(), second);
  EXPECT_EQ(failed["status"], "failed") << failed.dump().substr(0, 300);
  EXPECT_EQ(failed["result"]["error"]["code"], "result_too_large");
  EXPECT_NE(failed["result"]["error"]["message"].get<std::string>().find("jobs.max_results_size"),
            std::string::npos);
  // DELETE of a finished job removes it and frees its result: then 404, and room again.
  EXPECT_EQ(request(port(), "DELETE", "/jobs/" + first).status, 200);
  EXPECT_EQ(request(port(), "GET", "/jobs/" + first).status, 404);
  EXPECT_EQ(request(port(), "DELETE", "/jobs/" + first).status, 404);
  const std::string third = launch();
  EXPECT_EQ(finished_job(port(), third)["status"], "done");
  EXPECT_EQ(request(port(), "DELETE", "/jobs/" + third).status, 200);
  EXPECT_EQ(request(port(), "DELETE", "/jobs/" + second).status, 200);
}

TEST_F(Containment, ANulSurvivesInAnErrorMessage) {
  const auto r = post(port(), "/eval", script("error('a\\0b')").dump());
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["message"], std::string("a\0b", 3)) << r.body;
  EXPECT_NE(r.body.find("a\\u0000b"), std::string::npos) << r.body;
}

TEST_F(Containment, ErrorMessagesCannotAmplifyAnAnswer) {
  // A 111-byte request made a 336 MB answer: every slot's error message is cut at 1 KiB
  // (10 MB of messages here).
  json map{
      {"workload", "script"}, {"source", "error(string.rep('x', 1e5))"}, {"inputs", json::array()}};
  for (int i = 0; i < 100; ++i) {
    map["inputs"].push_back(i);
  }
  const auto r = post(port(), "/eval", map.dump());
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_LT(r.body.size(), 200U * 1024) << "100 errors of 100 KB each";
  const auto first = json::parse(r.body)["results"][0]["error"]["message"].get<std::string>();
  // (Under TSan building the string can meet the burst limit first: a short message too.)
  if (first.find("ran longer than the burst limit") == std::string::npos) {
    EXPECT_NE(first.find("cut: the message was 100000 bytes"), std::string::npos) << first;
  }
}

TEST_F(Containment, ANilGlobalStaysNilForTheRun) {
  const auto r =
      post(port(), "/eval",
           script("pairs = nil string.find = nil return {type(pairs), type(string.find)}").dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["result"], json::parse(R"(["nil","nil"])"));
  // The next run sees the libraries whole.
  const auto next = post(port(), "/eval", script("return {type(pairs), type(string.find)}").dump());
  EXPECT_EQ(json::parse(next.body)["result"], json::parse(R"(["function","function"])"));
}
