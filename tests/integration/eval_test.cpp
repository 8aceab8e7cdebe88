// POST /eval: single workloads, batches (order, bad items, chunking, caps), and the
// request-level errors (415, 400 with position, 413, deadline 504).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

http_response post(std::uint16_t port, const std::string& body,
                   const std::string& content_type = "application/json") {
  http_client c(port);
  c.send("POST /eval HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto res = c.read_response();
  if (!res) {
    throw std::runtime_error("no response");
  }
  return *res;
}

}  // namespace

class Eval : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    evald_process::options opts;
    opts.config_json = R"({"limits": {"max_batch_items": 1000}})";
    server_ = new evald_process(opts);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(), 0);
    delete server_;
  }
  static std::uint16_t port() { return server_->port(); }
  static evald_process* server_;
};
evald_process* Eval::server_ = nullptr;

TEST_F(Eval, SingleWorkloadsReturnTheGetEndpointsObjects) {
  auto res = post(port(), R"({"workload":"prime","n":"97","method":"trial"})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(json::parse(res.body)["factor"], nullptr);
  EXPECT_EQ(json::parse(res.body)["prime"], true);
  EXPECT_NE(res.header("Server-Timing").find("wall;dur="), std::string::npos);
  res = post(port(), R"({"workload":"factor","n":"12"})");
  EXPECT_EQ(json::parse(res.body),
            json::parse(R"({"n":"12","factors":["2","2","3"],"prime":false})"));
  res = post(port(), R"({"workload":"prime","n":18446744073709551557})");  // JSON number accepted
  EXPECT_EQ(json::parse(res.body)["prime"], true);
  res = post(port(), R"({"workload":"prime","n":"-3"})");
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("n must be a decimal integer"), std::string::npos);
}

TEST_F(Eval, BatchKeepsInputOrderAndBadItemsStayInTheirSlots) {
  json items = json::array();
  for (int i = 0; i < 500; ++i) {
    if (i % 50 == 7) {
      items.push_back({{"workload", "prime"}, {"n", "not-a-number"}});
    } else if (i % 3 == 0) {
      items.push_back({{"workload", "factor"}, {"n", std::to_string(1000003ULL * (i + 2))}});
    } else {
      items.push_back({{"workload", "prime"},
                       {"n", std::to_string(1000 + i)},
                       {"method", i % 2 ? "trial" : "miller-rabin"}});
    }
  }
  const auto res = post(port(), json{{"items", items}}.dump());
  ASSERT_EQ(res.status, 200) << res.body.substr(0, 300);
  const json j = json::parse(res.body);
  ASSERT_EQ(j["results"].size(), 500U);
  for (int i = 0; i < 500; ++i) {
    const json& r = j["results"][i];
    if (i % 50 == 7) {
      EXPECT_EQ(r["error"]["code"], "invalid_argument") << i;
      EXPECT_NE(r["error"]["message"].get<std::string>().find("items/" + std::to_string(i)),
                std::string::npos);
    } else if (i % 3 == 0) {
      EXPECT_EQ(r["n"], std::to_string(1000003ULL * (i + 2))) << i;
    } else {
      EXPECT_EQ(r["n"], std::to_string(1000 + i)) << i;
    }
  }
  EXPECT_EQ(j["summary"]["items"], 500);
  EXPECT_EQ(j["summary"]["failed"], 10);
  EXPECT_EQ(j["summary"]["ok"], 490);
  EXPECT_GE(j["summary"]["cpu_ms"].get<double>(), 0.0);
}

TEST_F(Eval, ChunkOverride) {
  json items = json::array();
  for (int i = 0; i < 100; ++i) {
    items.push_back({{"workload", "prime"}, {"n", std::to_string(i)}});
  }
  auto j = json::parse(post(port(), json{{"items", items}, {"chunk", 1}}.dump()).body);
  EXPECT_EQ(j["summary"]["chunks"], 100);
  j = json::parse(post(port(), json{{"items", items}, {"chunk", 50}}.dump()).body);
  EXPECT_EQ(j["summary"]["chunks"], 2);
  EXPECT_EQ(j["results"][97]["prime"], true);
  EXPECT_EQ(post(port(), json{{"items", items}, {"chunk", 0}}.dump()).status, 400);
}

TEST_F(Eval, RequestErrors) {
  EXPECT_EQ(post(port(), R"({"workload":"prime","n":"7"})", "text/plain").status, 415);
  auto res = post(port(), R"({"items":[1,2,})");
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("malformed JSON at byte"), std::string::npos) << res.body;
  res = post(port(), std::string(100, '[') + std::string(100, ']'));
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("nested deeper"), std::string::npos);
  json items = json::array();
  for (int i = 0; i < 1001; ++i) {
    items.push_back({{"workload", "prime"}, {"n", "7"}});
  }
  res = post(port(), json{{"items", items}}.dump());
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "too_many_items");
  EXPECT_EQ(post(port(), R"({"items":{}})").status, 400);
  EXPECT_EQ(post(port(), R"({"items":[], "extra": 1})").status, 400);
  EXPECT_EQ(post(port(), R"([1])").status, 400);
  res = post(port(), R"({"workload":"prime","n":"7","n":"8"})");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(json::parse(res.body)["error"]["message"], "duplicate key \"n\" in a JSON object");
  res = post(port(), R"({"items":[{"workload":"factor","n":"6","workload":"prime"}]})");
  EXPECT_EQ(res.status, 400);
  // Wrong types, empty, negative, overflow and non-ASCII values name the field.
  for (const char* bad : {R"({"workload":"prime","n":[]})", R"({"workload":"prime","n":""})",
                          R"({"workload":"prime","n":-7})", R"({"workload":"prime","n":1.5})",
                          R"({"workload":"prime","n":"18446744073709551616"})",
                          R"({"workload":"prime","n":"\u0663"})", R"({"workload":7,"n":"7"})",
                          R"({"workload":"prime","n":"7","method":3})", R"({"n":"7"})",
                          R"({"workload":"prime","n":"7","extra":1})"}) {
    res = post(port(), bad);
    EXPECT_EQ(res.status, 400) << bad;
    EXPECT_EQ(nlohmann::json::parse(res.body)["error"]["code"], "invalid_argument") << bad;
  }
  res = post(port(), R"({"workload":"prime","n":6e666})");  // found by fuzz_eval_json
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("number overflow"), std::string::npos) << res.body;
  res = post(port(), R"({"workload":"prime","n":"7","timeout_ms":"soon"})");
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("timeout_ms"), std::string::npos);
}

TEST_F(Eval, AWrongWorkloadGetsOneMessageListingEveryWorkload) {
  for (const char* body : {R"({"workload":"sqrt"})", R"({"workload":"Script","source":"return 1"})",
                           R"({})", R"({"workload":5,"n":"7"})"}) {
    const auto res = post(port(), body);
    ASSERT_EQ(res.status, 400) << body;
    const auto message = json::parse(res.body)["error"]["message"].get<std::string>();
    for (const char* part : {"\"prime\"", "\"factor\"", "\"script\"", "\"payload\""}) {
      EXPECT_NE(message.find(part), std::string::npos) << body << ": " << message;
    }
  }
  const auto script = post(port(), R"({"workload":"Script","source":"return 1"})");
  EXPECT_NE(script.body.find(R"(did you mean \"script\"?)"), std::string::npos) << script.body;
  EXPECT_EQ(script.body.find("unknown field"), std::string::npos) << script.body;
}

TEST_F(Eval, EveryEvaluationEndpointCarriesServerTiming) {
  for (const char* target : {"/prime?n=97", "/prime?n=97&method=trial", "/factor?n=97"}) {
    const auto res = get(port(), target);
    ASSERT_EQ(res.status, 200) << target;
    EXPECT_NE(res.header("server-timing").find("wall;dur="), std::string::npos) << target;
  }
  EXPECT_NE(
      post(port(), R"({"workload":"factor","n":"97"})").header("server-timing").find("cpu;dur="),
      std::string::npos);
}

TEST_F(Eval, ARequestsLimitsTakeSizesAsTheConfigWritesThem) {
  const auto with = [&](const std::string& limits) {
    return post(port(), R"({"workload":"script","source":"return 1","limits":)" + limits + "}");
  };
  EXPECT_EQ(with(R"({"memory":"1MiB"})").status, 200);
  EXPECT_EQ(with(R"({"memory":1048576})").status, 200);
  EXPECT_EQ(with(R"({"result_bytes":"64KiB"})").status, 200);
  const auto bad = with(R"({"memory":"lots"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("1MiB"), std::string::npos) << bad.body;
  EXPECT_EQ(with(R"({"memory":"1TiB"})").status, 400);  // past scripts.memory
}

TEST_F(Eval, BatchDeadline) {
  json items = json::array();
  for (int i = 0; i < 8; ++i) {
    items.push_back({{"workload", "prime"}, {"n", "18446744073709551557"}, {"method", "trial"}});
  }
  const auto res = post(port(), json{{"items", items}, {"chunk", 1}, {"timeout_ms", 50}}.dump());
  EXPECT_EQ(res.status, 504);
  const json j = json::parse(res.body);
  EXPECT_EQ(j["error"]["code"], "deadline_exceeded");
  EXPECT_LT(j["progress"].get<double>(), 1.0);
}

// A body bigger than a few KiB is decoded as compute slices of the worker (so its other
// connections are served in between), with the same answers and errors as a small one.
TEST_F(Eval, ABigBodyIsDecodedInComputeSlices) {
  std::string body = R"({"items":[)";
  for (int i = 0; i < 1000; ++i) {
    body += (i ? "," : "") + std::string(R"({"workload":"factor","n":")") +
            std::to_string(1000 + i) + R"("})";
  }
  body += "]}";
  ASSERT_GT(body.size(), 16U * 1024);
  auto res = post(port(), body);
  ASSERT_EQ(res.status, 200) << res.body.substr(0, 300);
  const auto results = json::parse(res.body)["results"];
  ASSERT_EQ(results.size(), 1000U);
  EXPECT_EQ(results[0]["n"], "1000");
  EXPECT_EQ(results[999]["n"], "1999");
  EXPECT_EQ(results[999]["factors"], json::parse(R"(["1999"])"));

  // A 600 KB body with its error at the end: no evaluation runs, so the compute time
  // the workers report is the decode's (it took more than one slice).
  std::string bad = R"({"items":[)";
  while (bad.size() < 600 * 1024) {
    bad += R"({"workload":"factor","n":"18446744073709551557","tag":"abcdefghij"},)";
  }
  const auto at = bad.size() + 1;
  bad += "x]}";
  const double compute_before =
      metric_total(scrape_metrics(port()), "evald_worker_compute_seconds_total");
  res = post(port(), bad);
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("malformed JSON at byte " + std::to_string(at)), std::string::npos)
      << res.body;
  const double compute_after =
      metric_total(scrape_metrics(port()), "evald_worker_compute_seconds_total");
  EXPECT_GT(compute_after, compute_before);
}
