// The Log Detector contract of POST /eval and /eval-launch ({"payload"} and
// {"payloads"}): each condition type's true and false branches, context threading,
// the Timed boundary, Order compared as integers, launch, newline cleaning, every
// error status, batches with bad slots, the injection table, isolation between
// requests, and a looping condition under a deadline while /healthz is served.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"
#include "tests/integration/shared_server.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

class Detector : public shared_server<Detector> {
 public:
  static std::string config() {
    return R"({"scripts":{"condition_time":"300ms","memory":"4MiB"}})";
  }
};

std::string post_raw(const std::string& target, const std::string& body) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

http_response send(std::uint16_t port, const std::string& target, const std::string& body) {
  http_client c(port, std::chrono::seconds(30));
  c.send(post_raw(target, body));
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response");
  }
  return *r;
}

http_response eval(std::uint16_t port, const json& payload) {
  return send(port, "/eval", json{{"payload", payload}}.dump());
}

http_response launch(std::uint16_t port, const json& payload) {
  return send(port, "/eval-launch", json{{"payload", payload}}.dump());
}

json standard(int numeration, const std::string& text) {
  return {{"numeration", numeration}, {"type", "Standard"}, {"text", text}};
}

json timed(int numeration, std::int64_t range, const std::string& text) {
  return {{"numeration", numeration}, {"type", "Timed"}, {"timeRange", range}, {"text", text}};
}

json order(int numeration, const json& seq) {
  return {{"numeration", numeration}, {"type", "Order"}, {"order", seq}};
}

// std::vector, not json: nlohmann reads a one-element brace list as a copy.
json record(const std::string& text, const std::vector<json>& conditions,
            const json& context = json::object(), const std::vector<std::int64_t>& earlier = {}) {
  return {{"log", {{"Text", text}, {"Thread", "Thread-7"}, {"Level", "INFO"}, {"Line", 42}}},
          {"conditions", conditions},
          {"context", context},
          {"trueConditions", earlier},
          {"stateTime", 1000},
          {"logProcessingTime", 1500}};
}

json ok_body(const http_response& r) {
  EXPECT_EQ(r.status, 200) << r.body;
  return json::parse(r.body);
}

json error_of(const http_response& r) {
  const auto j = json::parse(r.body);
  EXPECT_TRUE(j.contains("error")) << r.body;
  return j["error"];
}

}  // namespace

TEST_F(Detector, StandardTrueAndFalse) {
  const auto j = ok_body(
      eval(port(), record("telescope reached park position",
                          {standard(1, R"(return text:find("park position", 1, true) ~= nil and
                                     log.Thread == "Thread-7")"),
                           standard(2, R"(return contains(text, "dome"))"),
                           standard(3, R"(return log.Line == 42 and log.Level == "INFO")")})));
  EXPECT_EQ(j["trueConditions"], json::parse("[1,3]"));
  EXPECT_EQ(j["context"], json::object());
}

TEST_F(Detector, ALoneExpressionIsACondition) {
  // As in Lua's REPL: `contains(text, "x")` means `return contains(text, "x")`.
  const auto j =
      ok_body(eval(port(), record("abc", {standard(1, R"(contains(text, "b"))"),
                                          standard(2, R"(startswith(text, "ab"))"),
                                          standard(3, R"(endswith(text, "bc"))"),
                                          standard(4, R"(endswith(text, "ab"))"),
                                          standard(5, R"(text:find("c"))"), standard(6, "")})));
  EXPECT_EQ(j["trueConditions"], json::parse("[1,2,3,5]"));
}

TEST_F(Detector, ContextThreadsThroughTrueConditionsOnly) {
  const auto j =
      ok_body(eval(port(), record("x",
                                  {standard(1, "data.count = data.count + 1 return true"),
                                   standard(2, "data.count = 100 data.lost = true return false"),
                                   standard(3, "data.seen = data.count return data.lost == nil"),
                                   standard(4, "data.nothing = 1")},  // returns nothing: false
                                  {{"count", 5}, {"keep", "me"}})));
  EXPECT_EQ(j["trueConditions"], json::parse("[1,3]"));
  EXPECT_EQ(j["context"], json::parse(R"({"count":6,"keep":"me","seen":6})"));
}

TEST_F(Detector, AReplacedDataTableBecomesTheContext) {
  const auto j = ok_body(
      eval(port(), record("x", {standard(1, "data = {fresh = true} return 1")}, {{"old", 1}})));
  EXPECT_EQ(j["context"], json::parse(R"({"fresh":true})"));
}

TEST_F(Detector, TimedBoundaryIsInclusive) {
  // logProcessingTime - stateTime = 500.
  const auto j =
      ok_body(eval(port(), record("x", {timed(1, 500, "return true"), timed(2, 499, "return true"),
                                        timed(3, 501, "return true"), timed(4, 500, "return false"),
                                        timed(5, 500, "data.t = 1 return true")})));
  EXPECT_EQ(j["trueConditions"], json::parse("[1,3,5]"));
  EXPECT_EQ(j["context"], json::parse(R"({"t":1})"));
}

TEST_F(Detector, OrderComparesIntegersNotDigits) {
  // The original joined digits, so [1,2] matched [12]; evald compares numerations.
  auto j = ok_body(eval(port(), record("x", {order(5, {1, 2})}, json::object(), {12})));
  EXPECT_EQ(j["trueConditions"], json::array());
  j = ok_body(eval(port(), record("x", {order(5, {12})}, json::object(), {1, 2})));
  EXPECT_EQ(j["trueConditions"], json::array());
  j = ok_body(eval(port(), record("x", {order(5, {1, 2})}, json::object(), {7, 1, 2, 9})));
  EXPECT_EQ(j["trueConditions"], json::parse("[5]"));
  j = ok_body(eval(port(), record("x", {order(5, {1, 2})}, json::object(), {1, 9, 2})));
  EXPECT_EQ(j["trueConditions"], json::array()) << "not contiguous";
}

TEST_F(Detector, OrderSpansEarlierAndThisCall) {
  const auto j =
      ok_body(eval(port(), record("x",
                                  {standard(3, "return true"), order(4, {2, 3}),
                                   standard(6, "return false"), order(7, {3, 4}), order(8, {3, 6})},
                                  {{"k", 1}}, {1, 2})));
  EXPECT_EQ(j["trueConditions"], json::parse("[3,4,7]"));
  EXPECT_EQ(j["context"], json::parse(R"({"k":1})")) << "Order leaves the context alone";
}

TEST_F(Detector, NewlinesInTheTextBecomeSpaces) {
  const auto j =
      ok_body(eval(port(), record("first line\nsecond\r\nthird",
                                  {standard(1, R"(return text == "first line second\r third")"),
                                   standard(2, R"(return log.Text == text)"),
                                   standard(3, R"(return text:find("\n", 1, true) == nil)")})));
  EXPECT_EQ(j["trueConditions"], json::parse("[1,2,3]"));
}

TEST_F(Detector, LaunchWithAndWithoutContext) {
  const json log = {{"Text", "Startup of\nnode 4"}, {"Node", 4}};
  auto r = launch(port(), {{"log", log}, {"launchCondition", "launch({node = log.Node})"}});
  EXPECT_EQ(
      ok_body(r),
      json::parse(
          R"j({"condition":"launch({node = log.Node})","launch":true,"context":{"node":4}})j"));
  r = launch(port(), {{"log", log}, {"launchCondition", "launch()"}});
  EXPECT_EQ(ok_body(r), json::parse(R"j({"condition":"launch()","launch":true,"context":null})j"));
  r = launch(port(),
             {{"log", log}, {"launchCondition", R"(if contains(text, "x") then launch() end)"}});
  EXPECT_EQ(r.body, R"({"launch":false})");
  // Two calls: the last wins; the context is taken at the call.
  const std::string two = R"(local c = {n = 1} launch(c) c.n = 2 launch({text = text}) c.n = 3)";
  r = launch(port(), {{"log", log}, {"launchCondition", two}});
  const auto j = ok_body(r);
  EXPECT_EQ(j["condition"], two);
  EXPECT_EQ(j["context"], json::parse(R"({"text":"Startup of node 4"})"));
  // The form that launches a job is untouched.
  r = send(port(), "/eval-launch", R"({"workload":"prime","n":"97"})");
  EXPECT_EQ(r.status, 202) << r.body;
}

TEST_F(Detector, ErrorsNameTheCondition) {
  auto r = eval(port(), record("x", {standard(1, "return true"), standard(7, "return ((")}));
  EXPECT_EQ(r.status, 400);
  auto e = error_of(r);
  EXPECT_EQ(e["code"], "condition_syntax");
  EXPECT_EQ(e["numeration"], 7);
  EXPECT_EQ(e["line"], 1);
  EXPECT_NE(e["message"].get<std::string>().find("condition 7"), std::string::npos);

  r = eval(port(), record("x", {standard(3, "local a = 1\nlocal b = nil\nreturn a + b")}));
  EXPECT_EQ(r.status, 422);
  e = error_of(r);
  EXPECT_EQ(e["code"], "condition_error");
  EXPECT_EQ(e["numeration"], 3);
  EXPECT_EQ(e["line"], 3);
  EXPECT_NE(e["message"].get<std::string>().find("arithmetic"), std::string::npos);

  r = eval(port(), record("x", {standard(4, "\n\nerror('custom failure')")}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_of(r)["line"], 3);
  EXPECT_NE(r.body.find("custom failure"), std::string::npos);

  r = eval(port(), record("x", {standard(5, "data = 5 return true")}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_of(r)["code"], "condition_result");

  r = eval(port(), record("x", {standard(6, "launch({}) return true")}));
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("launch"), std::string::npos);

  r = eval(port(), record("x", {standard(8, "local t = {} for i = 1, 1e9 do t[i] = i end")}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_of(r)["code"], "condition_memory");

  r = launch(port(), {{"log", {{"Text", "x"}}}, {"launchCondition", "launch(function() end)"}});
  EXPECT_EQ(r.status, 422);
  e = error_of(r);
  EXPECT_EQ(e["code"], "condition_error");
  EXPECT_FALSE(e.contains("numeration"));
  EXPECT_NE(e["message"].get<std::string>().find("launchCondition"), std::string::npos);

  r = launch(port(), {{"log", {{"Text", "x"}}}, {"launchCondition", "launch("}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "condition_syntax");
}

TEST_F(Detector, ShapeErrorsAre400NamingTheField) {
  struct bad_case {
    json payload;
    std::string names;
  };
  const json log = {{"Text", "x"}};
  const std::vector<bad_case> cases = {
      {{{"log", log},
        {"conditions", json::array({{{"numeration", 1}, {"type", "Fancy"}, {"text", "true"}}})}},
       "unknown condition type \"Fancy\""},
      {{{"log", log}, {"conditions", json::array({{{"numeration", 1}, {"type", "Standard"}}})}},
       "payload.conditions[0].text"},
      {{{"log", log},
        {"conditions", json::array({{{"numeration", 1}, {"type", "Timed"}, {"text", "true"}}})}},
       "payload.conditions[0].timeRange"},
      {{{"log", log}, {"conditions", json::array({{{"numeration", 1}, {"type", "Order"}}})}},
       "payload.conditions[0].order"},
      {{{"log", log}, {"conditions", json::array({{{"type", "Standard"}, {"text", "true"}}})}},
       "numeration is missing"},
      {{{"log", log},
        {"conditions", json::array({{{"numeration", 1.5}, {"type", "Standard"}, {"text", "1"}}})}},
       "payload.conditions[0].numeration"},
      // The original answered 500 for this one.
      {{{"log", log},
        {"conditions",
         json::array({{{"numeration", 2}, {"type", "Timed"}, {"timeRange", 5}, {"text", "1"}}})}},
       "payload.stateTime"},
      {{{"conditions", json::array()}}, "payload.log"},
      {{{"log", {{"Level", "INFO"}}}, {"conditions", json::array()}}, "payload.log.Text"},
      {{{"log", {{"Text", 5}}}, {"conditions", json::array()}}, "payload.log.Text"},
      {{{"log", log}}, "payload.conditions"},
      {{{"log", log}, {"conditions", json::array()}, {"context", json::array()}},
       "payload.context"},
      {{{"log", log}, {"conditions", json::array()}, {"trueConditions", {"1"}}},
       "payload.trueConditions[0]"},
      {{{"log", log}, {"conditions", json::array()}, {"trueCondition", json::array()}},
       "unknown field \"trueCondition\""},
      {{{"log", log}, {"launchCondition", "launch()"}}, "/eval-launch"},
  };
  for (const auto& c : cases) {
    const auto r = eval(port(), c.payload);
    EXPECT_EQ(r.status, 400) << c.payload.dump() << " → " << r.body;
    const auto message = json::parse(r.body)["error"]["message"].get<std::string>();
    EXPECT_NE(message.find(c.names), std::string::npos) << message << " should name " << c.names;
  }
  auto r = launch(port(), {{"log", log}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("payload.launchCondition"), std::string::npos) << r.body;
  r = send(port(), "/eval", R"({"payload":{"log":{"Text":"x"},"conditions":[]},"extra":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("extra"), std::string::npos) << r.body;
  // A condition longer than scripts.max_source.
  r = eval(port(), record("x", {standard(1, "return true --" + std::string(70 * 1024, 'x'))}));
  EXPECT_EQ(r.status, 413) << r.body;
}

TEST_F(Detector, BatchesKeepOrderAndFailInTheirSlots) {
  json payloads = json::array();
  for (int i = 0; i < 300; ++i) {
    payloads.push_back(
        record("line " + std::to_string(i),
               {standard(1, "data.i = tonumber(text:match('%d+')) return data.i % 2 == 0")}));
  }
  payloads[5] = {{"log", {{"Text", "x"}}},
                 {"conditions", json::array({{{"numeration", 1}, {"type", "?"}}})}};
  payloads[6] = record("x", {standard(9, "return nil .. 1")});
  payloads[7] = record("x", {standard(9, "return (")});
  const auto r = send(port(), "/eval", json{{"payloads", payloads}}.dump());
  const auto j = ok_body(r);
  ASSERT_EQ(j["results"].size(), 300U);
  for (int i = 0; i < 300; ++i) {
    json slot = j["results"][static_cast<std::size_t>(i)];
    if (i >= 5 && i <= 7) {
      continue;
    }
    // A false condition's change to data is dropped.
    const json expected = i % 2 == 0 ? json{{"i", i}} : json::object();
    EXPECT_EQ(slot["context"], expected) << slot.dump();
    EXPECT_EQ(slot["trueConditions"], i % 2 == 0 ? json::parse("[1]") : json::array());
  }
  EXPECT_EQ(j["results"][5]["error"]["status"], 400);
  EXPECT_NE(j["results"][5]["error"]["message"].get<std::string>().find("payloads[5]"),
            std::string::npos);
  EXPECT_EQ(j["results"][6]["error"]["code"], "condition_error");
  EXPECT_EQ(j["results"][6]["error"]["numeration"], 9);
  EXPECT_EQ(j["results"][7]["error"]["code"], "condition_syntax");
  EXPECT_EQ(j["summary"]["failed"], 3);
  EXPECT_EQ(j["summary"]["ok"], 297);

  json launches = json::array();
  launches.push_back({{"log", {{"Text", "a"}}}, {"launchCondition", "launch({t = text})"}});
  launches.push_back({{"log", {{"Text", "b"}}}, {"launchCondition", "error('no')"}});
  launches.push_back({{"log", {{"Text", "c"}}}, {"launchCondition", "return"}});
  const auto l = ok_body(send(port(), "/eval-launch", json{{"payloads", launches}}.dump()));
  EXPECT_EQ(l["results"][0]["context"], json::parse(R"({"t":"a"})"));
  EXPECT_EQ(l["results"][1]["error"]["status"], 422);
  EXPECT_EQ(l["results"][2], json::parse(R"({"launch":false})"));
}

// The record is data, never code: each hostile text gives the same answer as a
// harmless one, for conditions and for a launch condition.
TEST_F(Detector, HostileTextsChangeNoResult) {
  const json conditions = {
      standard(1, R"(return contains(text, "ERROR"))"),
      standard(2, R"(data.n = (data.n or 0) + 1 return startswith(log.Text, "ERROR"))"),
      standard(3, R"(return log.Thread == "Thread-7" and #text > 6)"),
      standard(4, R"(return contains(text, "never"))")};
  const std::string launch_code = R"(if contains(text, "ERROR") then launch({x = 2}) end)";
  const auto answer_for = [&](const std::string& body_text) {
    const std::string payload_log = R"({"Text":)" + body_text + R"(,"Thread":"Thread-7"})";
    const auto e = send(port(), "/eval",
                        R"({"payload":{"log":)" + payload_log + R"(,"conditions":)" +
                            conditions.dump() + R"(,"context":{}}})");
    const auto l = send(port(), "/eval-launch",
                        R"({"payload":{"log":)" + payload_log + R"(,"launchCondition":)" +
                            json(launch_code).dump() + "}}");
    return std::make_pair(e, l);
  };
  const auto [base_eval, base_launch] = answer_for(R"("ERROR harmless text")");
  ASSERT_EQ(base_eval.status, 200) << base_eval.body;
  ASSERT_EQ(json::parse(base_eval.body)["trueConditions"], json::parse("[1,2,3]"));
  ASSERT_EQ(json::parse(base_launch.body)["context"], json::parse(R"({"x":2})"));
  // As JSON string literals (escapes included): the bytes the text carries.
  const std::vector<std::string> hostile = {
      R"("ERROR \" quote")",
      R"("ERROR ' single")",
      R"("ERROR \\ backslash \\\" mixed")",
      R"("ERROR ]] long bracket ]=] [[")",
      R"("ERROR -- comment --[[ open")",
      R"("ERROR\nnewline\n\nmore")",
      R"("ERROR\r\ncarriage\rreturn")",
      R"("ERROR \u0000 NUL \u0000")",
      "\"ERROR raw invalid UTF-8 \xff\xfe\x80 \xc3\x28\"",
      R"("ERROR lone surrogate \udcff from Python")",
      R"("ERROR \"; launch({\"x\":1}); --")",
      R"("ERROR ]] launch({x = 1}) --[[")",
      R"("ERROR %s %d %n %% format")",
      R"("ERROR \u2028 \ud83d\ude00 unicode")",
      R"("ERROR ${x} $(rm -rf /) `cmd`")",
      R"("ERROR end end end) return false --")",
  };
  for (const auto& text : hostile) {
    const auto [e, l] = answer_for(text);
    EXPECT_EQ(e.status, 200) << text << " → " << e.body;
    EXPECT_EQ(e.body, base_eval.body) << text;
    EXPECT_EQ(l.body, base_launch.body) << text;
  }
}

TEST_F(Detector, NoRequestSeesAnothersData) {
  // Globals, library fields and the math generator's state stay in one run; both
  // connections use the same worker's state (keep-alive on one connection).
  http_client c(port(), std::chrono::seconds(10));
  const auto roundtrip = [&](const json& payload) {
    c.send(post_raw("/eval", json{{"payload", payload}}.dump()));
    return *c.read_response();
  };
  auto r = roundtrip(record("secret-1", {standard(1, R"(leaked = text string.leaked = text
                                                      _G.other = data.secret return true)")},
                            {{"secret", "s3cr3t"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  r = roundtrip(record("x", {standard(1, R"(return leaked == nil and string.leaked == nil and
                                              other == nil and _G.other == nil)")}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["trueConditions"], json::parse("[1]")) << "state leaked";
}

TEST_F(Detector, ALoopingConditionCostsOneDeadlineWhileHealthzIsServed) {
  std::atomic<bool> done{false};
  int status = 0;
  std::string body;
  std::thread heavy([&] {
    try {
      const auto r = send(
          port(), "/eval",
          json{{"payload", record("x", {standard(1, "while true do end")})}, {"timeout_ms", 150}}
              .dump());
      status = r.status;
      body = r.body;
    } catch (const std::exception&) {
    }
    done = true;
  });
  int served = 0;
  int failed = 0;
  http_client c(port(), std::chrono::seconds(2));
  while (!done) {
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto r = c.read_response();
    failed += r && r->status == 200 ? 0 : 1;
    ++served;
  }
  heavy.join();
  EXPECT_EQ(status, 504) << body;
  EXPECT_NE(body.find("deadline_exceeded"), std::string::npos) << body;
  EXPECT_EQ(failed, 0);
  EXPECT_GT(served, 20) << "light requests starved";
  // Without a shorter deadline, scripts.condition_time (300 ms here) ends it.
  const auto r =
      eval(port(), record("x", {standard(2, "local n = 0\nwhile true do n = n + 1 end")}));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(error_of(r)["code"], "condition_timeout");
  EXPECT_EQ(error_of(r)["numeration"], 2);
  // The worker's state is still sound.
  EXPECT_EQ(ok_body(eval(port(), record("x", {standard(3, "return true")})))["trueConditions"],
            json::parse("[3]"));
}

TEST_F(Detector, MetricsCountConditions) {
  const auto before = scrape_metrics(port());
  ok_body(eval(port(), record("x", {standard(1, "return true"), standard(2, "return false"),
                                    order(3, {1})})));
  EXPECT_EQ(eval(port(), record("x", {standard(4, "error('x')")})).status, 422);
  const auto after = scrape_metrics(port());
  const auto delta = [&](const char* name) {
    return metric_total(after, name) - metric_total(before, name);
  };
  EXPECT_EQ(delta("evald_conditions_evaluated_total"), 4);
  EXPECT_EQ(delta("evald_conditions_true_total"), 2);
  EXPECT_EQ(delta("evald_conditions_failed_total"), 1);
}

TEST_F(Detector, ServerTimingIsSet) {
  const auto r = eval(port(), record("x", {standard(1, "return true")}));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("Server-Timing").find("cpu"), std::string::npos) << r.header("Server-Timing");
}

// A big batch is decoded in steps (compute slices); a byte that is not UTF-8 near its
// end still makes the repair pass, from the start, in steps too.
TEST_F(Detector, ABigBatchWithABadByteAtTheEndIsRepairedToo) {
  json payloads = json::array();
  for (int i = 0; i < 400; ++i) {
    payloads.push_back(record("line " + std::to_string(i) + (i == 399 ? " @BAD@" : ""),
                              {standard(1, "return text:find('line') ~= nil")}));
  }
  std::string body = json{{"payloads", payloads}}.dump();
  ASSERT_GT(body.size(), 32U * 1024);
  body.replace(body.find("@BAD@"), 5, "\xff\xfe");
  const auto r = send(port(), "/eval", body);
  const auto j = ok_body(r);
  ASSERT_EQ(j["results"].size(), 400U);
  EXPECT_EQ(j["results"][399]["trueConditions"], json::parse("[1]")) << j["results"][399].dump();
  // The same bad byte outside a Log Detector body stays an error, naming its byte.
  std::string other = R"({"items":[)";
  while (other.size() < 40 * 1024) {
    other += R"({"workload":"prime","n":"7"},)";
  }
  const auto at = other.size() + 26;  // 1-based byte of the bad one
  other += "{\"workload\":\"prime\",\"n\":\"\xff\"}]}";
  const auto e = send(port(), "/eval", other);
  EXPECT_EQ(e.status, 400) << e.body;
  EXPECT_NE(e.body.find("malformed JSON at byte " + std::to_string(at)), std::string::npos)
      << e.body;
}
