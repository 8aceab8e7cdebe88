// /healthz, /prime and the error contract, against the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

class Endpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new evald_process(); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(), 0);
    delete server_;
  }
  static std::uint16_t port() { return server_->port(); }
  static json get_json(const std::string& target, int expected_status) {
    const auto res = get(port(), target);
    EXPECT_EQ(res.status, expected_status) << target << " → " << res.body;
    EXPECT_EQ(res.header("Content-Type"), "application/json") << target;
    return json::parse(res.body);
  }
  static void expect_error(const std::string& target, int status, const std::string& code,
                           const std::string& message_part) {
    const json j = get_json(target, status);
    ASSERT_TRUE(j.contains("error")) << j.dump();
    EXPECT_EQ(j["error"]["status"], status);
    EXPECT_EQ(j["error"]["code"], code) << j.dump();
    EXPECT_NE(j["error"]["message"].get<std::string>().find(message_part), std::string::npos)
        << j.dump();
  }
  static evald_process* server_;
};
evald_process* Endpoints::server_ = nullptr;

TEST_F(Endpoints, HealthzAndStandardHeaders) {
  const auto res = get(port(), "/healthz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"status":"ok"})");
  EXPECT_EQ(res.header("Server"), "evald/0.1.0");
  EXPECT_EQ(res.header("Date").size(), 29U);
  EXPECT_EQ(res.header("Date").substr(26), "GMT");
  EXPECT_EQ(res.header("Content-Length"), "15");
}

TEST_F(Endpoints, HeadOnEveryGetRoute) {
  for (const char* target : {"/healthz", "/prime?n=97", "/chargen?bytes=1000"}) {
    const auto head = get(port(), target, "HEAD");
    const auto full = get(port(), target);
    EXPECT_EQ(head.status, 200) << target;
    EXPECT_TRUE(head.body.empty()) << target;
    EXPECT_EQ(head.header("Content-Length"), std::to_string(full.body.size())) << target;
  }
}

TEST_F(Endpoints, PrimeMillerRabin) {
  json j = get_json("/prime?n=97", 200);
  EXPECT_EQ(j, json::parse(R"({"n":"97","prime":true,"method":"miller-rabin"})"));
  j = get_json("/prime?n=100109100129100369&method=miller-rabin", 200);
  EXPECT_EQ(j["prime"], false);
  j = get_json("/prime?n=18446744073709551557&method=auto", 200);
  EXPECT_EQ(j["prime"], true);
  EXPECT_EQ(j["n"], "18446744073709551557");
  j = get_json("/prime?n=0000000000000000000000097", 200);  // leading zeros
  EXPECT_EQ(j["n"], "97");
  EXPECT_EQ(get_json("/prime?n=0", 200)["prime"], false);
  EXPECT_EQ(get_json("/prime?n=1", 200)["prime"], false);
  EXPECT_EQ(get_json("/prime?n=2", 200)["prime"], true);
}

TEST_F(Endpoints, PrimeTrialDivision) {
  json j = get_json("/prime?n=112272535095295&method=trial", 200);
  EXPECT_EQ(j["prime"], false);
  EXPECT_EQ(j["factor"], "5");
  EXPECT_EQ(j["method"], "trial");
  EXPECT_EQ(j["divisors_checked"], "3");  // 2, 3, 5
  j = get_json("/prime?n=100109100129101027&method=trial", 200);
  EXPECT_EQ(j["factor"], "171656941");
  j = get_json("/prime?n=100109100129162907&method=trial", 200);
  EXPECT_EQ(j["prime"], true);
  EXPECT_TRUE(j["factor"].is_null());
  EXPECT_GT(std::stoull(j["divisors_checked"].get<std::string>()), 80'000'000ULL);
  j = get_json("/prime?n=1&method=trial", 200);
  EXPECT_EQ(j["prime"], false);
  EXPECT_TRUE(j["factor"].is_null());
}

TEST_F(Endpoints, BadNumbersAreClearErrors) {
  const std::string msg = "n must be a decimal integer from 0 to 18446744073709551615";
  for (const char* bad :
       {"-1", "abc", "18446744073709551616", "", "1.5", "0x10", "%20%201", "%D9%A3", "1e9"}) {
    expect_error(std::string("/prime?n=") + bad, 400, "invalid_argument", msg);
  }
  expect_error("/prime", 400, "invalid_argument", "missing query parameter \"n\"");
  expect_error("/prime?n=7&method=magic", 400, "invalid_argument", "method must be");
  expect_error("/prime?n=7&m=1", 400, "invalid_argument", "unknown query parameter \"m\"");
  expect_error("/prime?n=7&n=8", 400, "invalid_argument", "more than once");
  expect_error("/prime?n=%zz", 400, "invalid_argument", "percent escape");
}

TEST_F(Endpoints, UnknownPathAndWrongMethod) {
  expect_error("/nope", 404, "not_found", "/nope");
  const auto res = get(port(), "/healthz", "POST");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.header("Allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "method_not_allowed");
  const auto del = get(port(), "/prime?n=3", "DELETE");
  EXPECT_EQ(del.status, 405);
  const auto options = get(port(), "/prime", "OPTIONS");
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(options.header("Allow"), "GET, HEAD, OPTIONS");
}

TEST_F(Endpoints, AbsoluteFormTargetIsAccepted) {
  http_client c(port());
  c.send("GET http://example.com/prime?n=13 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const auto res = c.read_response();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["prime"], true);
}
