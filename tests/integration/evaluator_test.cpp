// The parallel evaluator against the real binary: answers checked with GNU
// coreutils `factor` as an independent oracle, parallel trial division, deadlines,
// client disconnect, admission, fairness and the thread count under load.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

// `factor n1 n2 ...` → n → its prime factors.
std::map<std::uint64_t, std::vector<std::uint64_t>> oracle_factor(
    const std::vector<std::uint64_t>& numbers) {
  std::string cmd = "factor";
  for (auto n : numbers) {
    cmd += " " + std::to_string(n);
  }
  std::map<std::uint64_t, std::vector<std::uint64_t>> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return out;
  }
  char line[1024];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::istringstream in(line);
    std::string head;
    in >> head;  // "n:"
    const std::uint64_t n = std::stoull(head.substr(0, head.size() - 1));
    std::vector<std::uint64_t> fs;
    for (std::uint64_t f; in >> f;) {
      fs.push_back(f);
    }
    out[n] = fs;
  }
  pclose(p);
  return out;
}

json get_json(std::uint16_t port, const std::string& target, int expected = 200) {
  const auto res = get(port, target);
  EXPECT_EQ(res.status, expected) << target << " → " << res.body;
  return json::parse(res.body);
}

constexpr const char* long_trial = "/prime?n=18446744073709551557&method=trial";  // ~1–2 s

}  // namespace

TEST(Evaluator, AgreesWithCoreutilsFactorOn2000RandomNumbers) {
  // Random 64-bit values with a random bit length (1..64), so every size class is
  // covered and the few 64-bit primes keep the trial-division part affordable.
  const unsigned seed = std::random_device{}();
  std::printf("seed %u (set EVALD_TEST_SEED to repeat)\n", seed);
  std::mt19937_64 rng(std::getenv("EVALD_TEST_SEED") ? std::stoul(std::getenv("EVALD_TEST_SEED"))
                                                     : seed);
  std::vector<std::uint64_t> numbers;
  for (int i = 0; i < 2000; ++i) {
    const unsigned bits = 1 + static_cast<unsigned>(rng() % 64);
    numbers.push_back(bits == 64 ? rng() : (rng() & ((1ULL << bits) - 1)) | (1ULL << (bits - 1)));
  }
  const auto oracle = oracle_factor(numbers);
  ASSERT_EQ(oracle.size(), std::set<std::uint64_t>(numbers.begin(), numbers.end()).size());

  evald_process server;
  http_client c(server.port(), 60s);
  for (std::uint64_t n : numbers) {
    const auto& expected = oracle.at(n);
    const std::string ns = std::to_string(n);
    c.send(get_request("/factor?n=" + ns) + get_request("/prime?n=" + ns) +
           get_request("/prime?n=" + ns + "&method=trial"));
    const auto f = c.read_response();
    const auto mr = c.read_response();
    const auto trial = c.read_response();
    ASSERT_TRUE(f && mr && trial) << n;
    const json fj = json::parse(f->body);
    std::vector<std::uint64_t> got;
    for (const auto& s : fj["factors"]) {
      got.push_back(std::stoull(s.get<std::string>()));
    }
    ASSERT_EQ(got, expected) << n;
    const bool is_prime = expected.size() == 1 && expected[0] == n;
    ASSERT_EQ(json::parse(mr->body)["prime"], is_prime) << n;
    const json tj = json::parse(trial->body);
    ASSERT_EQ(tj["prime"], is_prime) << n;
    if (!is_prime && n >= 4) {
      ASSERT_EQ(tj["factor"], std::to_string(expected.front())) << n;
    }
  }

  // The same numbers as one /eval batch: a factor item and a trial item each.
  json items = json::array();
  for (std::uint64_t n : numbers) {
    items.push_back({{"workload", "factor"}, {"n", std::to_string(n)}});
    items.push_back({{"workload", "prime"}, {"n", std::to_string(n)}, {"method", "trial"}});
  }
  const std::string body = json{{"items", items}}.dump();
  c.send("POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
  const auto batch = c.read_response();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->status, 200) << batch->body.substr(0, 300);
  const json results = json::parse(batch->body)["results"];
  ASSERT_EQ(results.size(), 2 * numbers.size());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::uint64_t n = numbers[i];
    const auto& expected = oracle.at(n);
    std::vector<std::uint64_t> got;
    for (const auto& s : results[2 * i]["factors"]) {
      got.push_back(std::stoull(s.get<std::string>()));
    }
    ASSERT_EQ(got, expected) << "batch item " << 2 * i << ", n=" << n;
    const bool is_prime = expected.size() == 1 && expected[0] == n;
    ASSERT_EQ(results[2 * i + 1]["prime"], is_prime) << "batch item " << 2 * i + 1;
  }
}

TEST(Evaluator, ParallelTrialDivisionGivesTheSameSmallestFactorForEveryWorkerCount) {
  struct case_t {
    const char* n;
    const char* factor;  // nullptr: prime
  };
  const case_t cases[] = {{"112272535095295", "5"},
                          {"100109100129100369", "95362951"},
                          {"100109100129101027", "171656941"},
                          {"100109100129100151", nullptr},
                          {"100109100129162907", nullptr}};
  for (std::uint32_t w : {1U, 2U, 3U}) {
    evald_process::options opts;
    opts.threads = w;
    evald_process server(opts);
    for (const auto& c : cases) {
      const auto res = get(server.port(), std::string("/prime?n=") + c.n + "&method=trial");
      ASSERT_EQ(res.status, 200);
      const json j = json::parse(res.body);
      if (c.factor != nullptr) {
        EXPECT_EQ(j["factor"], c.factor) << c.n << " W=" << w;
        EXPECT_EQ(j["prime"], false);
      } else {
        EXPECT_TRUE(j["factor"].is_null()) << c.n << " W=" << w;
        EXPECT_EQ(j["prime"], true);
      }
      // The small non-prime is answered by the serial pre-check; the rest fan out.
      EXPECT_EQ(j["workers"], std::string(c.n) == "112272535095295" ? 1U : w) << c.n;
      EXPECT_NE(res.header("Server-Timing").find("cpu;dur="), std::string::npos);
    }
  }
}

TEST(Evaluator, DeadlineGives504WithProgress) {
  evald_process server;
  const auto res = get(server.port(), std::string(long_trial) + "&timeout_ms=60");
  ASSERT_EQ(res.status, 504) << res.body;
  const json j = json::parse(res.body);
  EXPECT_EQ(j["error"]["code"], "deadline_exceeded");
  EXPECT_GT(j["progress"].get<double>(), 0.0);
  EXPECT_LT(j["progress"].get<double>(), 1.0);
  EXPECT_NE(res.header("Server-Timing").find("wall;dur="), std::string::npos);
  EXPECT_EQ(get(server.port(), "/prime?n=7&method=trial&timeout_ms=0").status, 400);
  EXPECT_EQ(get(server.port(), "/prime?n=7&method=trial&timeout_ms=x").status, 400);
}

TEST(Evaluator, ADisconnectedClientStopsItsComputation) {
  evald_process::options opts;
  opts.threads = 1;  // ~2 s of work for this n: long enough to tell stopping from finishing
  evald_process server(opts);
  {
    http_client c(server.port());
    c.send(get_request(long_trial));
    // Wait until the work is visibly running, then leave.
    const auto until = steady::now() + 5s;
    while (server.cpu_seconds() < 0.1 && steady::now() < until) {
      std::this_thread::yield();
    }
  }
  const double at_close = server.cpu_seconds();
  // CPU time must stop growing soon: poll until two readings 200 ms apart agree.
  double last = at_close;
  const auto until = steady::now() + 5s;
  for (;;) {
    std::this_thread::sleep_for(200ms);  // sampling interval of the measurement
    const double now = server.cpu_seconds();
    if (now - last < 0.02 || steady::now() > until) {
      last = now;
      break;
    }
    last = now;
  }
  EXPECT_LT(last - at_close, 0.6) << "the evaluation kept computing for a gone client";
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}

TEST(Evaluator, AdmissionAnswers503AndNeverRefusesHealthz) {
  evald_process::options opts;
  opts.threads = 1;
  opts.config_json = R"({"limits": {"max_evaluations": 1}})";
  evald_process server(opts);
  http_client busy(server.port());
  busy.send(get_request(long_trial));
  // /healthz answers while the evaluation runs (it is never refused) ...
  ASSERT_EQ(get(server.port(), "/healthz").status, 200);
  // ... and a second evaluation on the same worker is refused with Retry-After.
  const auto res = get(server.port(), "/prime?n=100109100129100151&method=trial");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.header("Retry-After"), "1");
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "overloaded");
  // Miller–Rabin is not an evaluation job and is still served.
  EXPECT_EQ(get(server.port(), "/prime?n=97").status, 200);
}

TEST(Evaluator, HealthzStaysResponsiveAndThreadsStayPutWhileEveryWorkerComputes) {
  evald_process server;
  http_client a(server.port(), 60s);
  http_client b(server.port(), 60s);
  a.send(get_request(long_trial));
  b.send(get_request(long_trial));
  const auto until = steady::now() + 5s;
  while (server.cpu_seconds() < 0.2 && steady::now() < until) {
    std::this_thread::yield();
  }
  for (int i = 0; i < 10; ++i) {
    const auto t = steady::now();
    ASSERT_EQ(get(server.port(), "/healthz").status, 200);
    EXPECT_LT(steady::now() - t, 1s) << "healthz starved by computation";
  }
#if defined(__SANITIZE_THREAD__)
  EXPECT_EQ(server.thread_count(), 4U);
#else
  EXPECT_EQ(server.thread_count(), 3U);  // W workers + the logger, however much work is queued
#endif
  ASSERT_TRUE(a.read_response());
  ASSERT_TRUE(b.read_response());
}

TEST(Evaluator, FactorEndpoint) {
  evald_process server;
  EXPECT_EQ(get_json(server.port(), "/factor?n=12"),
            json::parse(R"({"n":"12","factors":["2","2","3"],"prime":false})"));
  EXPECT_EQ(get_json(server.port(), "/factor?n=97")["prime"], true);
  EXPECT_EQ(get_json(server.port(), "/factor?n=1")["factors"], json::array());
  EXPECT_EQ(get_json(server.port(), "/factor?n=0")["prime"], false);
  EXPECT_EQ(get_json(server.port(), "/factor?n=-5", 400)["error"]["code"], "invalid_argument");
}

TEST(Evaluator, TrialDivisionOnEverySmallNumber) {
  evald_process server;
  http_client c(server.port());
  for (int n = 0; n < 400; ++n) {
    c.send(get_request("/prime?n=" + std::to_string(n) + "&method=trial") +
           get_request("/factor?n=" + std::to_string(n)));
    const auto trial = c.read_response();
    const auto f = c.read_response();
    ASSERT_TRUE(trial && f);
    const json fj = json::parse(f->body);
    const json tj = json::parse(trial->body);
    ASSERT_EQ(tj["prime"], fj["prime"]) << n;
    if (n >= 4 && fj["prime"] == false) {
      ASSERT_EQ(tj["factor"], fj["factors"][0]) << n;
    }
  }
}
