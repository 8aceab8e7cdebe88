// The sandbox kernel alone: compile, run in slices, limits, JSON conversion, and
// what a script can and cannot reach.
#include "handlers/sandbox/script_vm.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <thread>

using namespace evald::sandbox;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct outcome {
  std::optional<script_failure> failure;
  json result;
  std::vector<std::string> log;
  std::uint64_t slices = 0;
  script_stats stats;
};

// Runs to the end in 250 µs slices, giving up after `limit` (then the vm is dropped,
// as the server does at a deadline).
outcome run(const std::string& source, const json& input = nullptr, script_limits limits = {},
            std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  script_vm vm(source, limits);
  outcome o;
  if (!vm.compiled()) {
    o.failure = vm.failure();
    return o;
  }
  vm.start(input);
  const auto give_up = clock_type::now() + limit;
  while (vm.resume(clock_type::now() + std::chrono::microseconds(250)) ==
         script_vm::step::yielded) {
    ++o.slices;
    if (clock_type::now() > give_up) {
      o.failure = script_failure{script_failure::kind::stopped, std::nullopt, "deadline"};
      return o;
    }
  }
  o.failure = vm.failure();
  o.result = vm.result();
  o.log = vm.log();
  o.stats = vm.stats();
  return o;
}

}  // namespace

TEST(ScriptVm, AddsItsInput) {
  const auto o = run("return input.a + input.b", json{{"a", 1}, {"b", 2}});
  ASSERT_FALSE(o.failure) << o.failure->message;
  EXPECT_EQ(o.result, 3);
  EXPECT_GT(o.stats.memory_peak, 0U);
}

TEST(ScriptVm, UntouchedInputRoundTrips) {
  const json input = json::parse(R"({"a":[1,null,3],"b":{},"c":[],"d":1.0,"e":"x\u0000y","f":true,
    "g":-5,"h":9007199254740993,"i":[[],{}],"j":{"k":[{"l":null}]},"m":0.1,"n":"\u00fc"})");
  const auto o = run("return input", input);
  ASSERT_FALSE(o.failure) << o.failure->message;
  EXPECT_EQ(o.result, input);
  EXPECT_TRUE(o.result["d"].is_number_float());
  EXPECT_EQ(run("return input", json::array()).result, json::array());
  EXPECT_EQ(run("return input", nullptr).result, nullptr);
}

TEST(ScriptVm, LuaValuesBecomeJson) {
  EXPECT_EQ(run("return {1, 2, 3}").result, json::parse("[1,2,3]"));
  EXPECT_EQ(run("return {}").result, json::object());
  EXPECT_EQ(run("return array()").result, json::array());
  EXPECT_EQ(run("return array(1, 'a')").result, json::parse(R"([1,"a"])"));
  EXPECT_EQ(run("return {x = 1, [2] = 'b'}").result, json::parse(R"({"x":1,"2":"b"})"));
  EXPECT_EQ(run("return {1, nil, 3}").result, json::parse(R"({"1":1,"3":3})"));
  EXPECT_EQ(run("return {1, null, 3}").result, json::parse("[1,null,3]"));
  EXPECT_EQ(run("return 7 // 2, 'ignored'").result, 3);
  EXPECT_TRUE(run("return 1.5").result.is_number_float());
  EXPECT_EQ(run("return math.maxinteger").result, INT64_MAX);
  EXPECT_EQ(run("").result, nullptr);
}

TEST(ScriptVm, UnconvertibleResultsAreResultErrors) {
  for (const char* src : {"return function() end", "local t = {} t.t = t return t", "return 0/0",
                          "return {[0/0 == 0/0] = 1}", "return 1/0", "return {[true] = 1}",
                          "return '\\xff'", "return {[1] = 'a', ['1'] = 'b'}"}) {
    const auto o = run(src);
    ASSERT_TRUE(o.failure) << src;
    EXPECT_EQ(o.failure->what, script_failure::kind::result) << src << ": " << o.failure->message;
  }
  script_limits small;
  small.max_result_bytes = 1000;
  const auto big = run("return string.rep('x', 5000)", nullptr, small);
  ASSERT_TRUE(big.failure);
  EXPECT_EQ(big.failure->what, script_failure::kind::result_too_large);
  // A DAG that doubles at every level stops at the size limit, not after 2^60 nodes.
  const auto dag = run("local t = {1} for i = 1, 60 do t = {t, t} end return t");
  ASSERT_TRUE(dag.failure);
  EXPECT_TRUE(dag.failure->what == script_failure::kind::result_too_large ||
              dag.failure->what == script_failure::kind::result)
      << dag.failure->message;
}

TEST(ScriptVm, SyntaxErrorsNameTheLine) {
  const auto o = run("local x = 1\nlocal y = 2\nif x then\n");
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->what, script_failure::kind::syntax);
  EXPECT_EQ(o.failure->line, 4);
  EXPECT_NE(o.failure->message.find("'end' expected"), std::string::npos) << o.failure->message;
  // Deep nesting fails in the parser with "C stack overflow": still the source's fault.
  const auto deep = run("return " + std::string(1000, '(') + "1" + std::string(1000, ')'));
  ASSERT_TRUE(deep.failure);
  EXPECT_EQ(deep.failure->what, script_failure::kind::syntax);
  // Binary chunks are refused.
  const auto binary = run(std::string("\x1bLua", 4));
  ASSERT_TRUE(binary.failure);
  EXPECT_EQ(binary.failure->what, script_failure::kind::syntax);
}

TEST(ScriptVm, RuntimeErrorsNameTheLine) {
  auto o = run("local a = 1\nerror('boom')");
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->what, script_failure::kind::runtime);
  EXPECT_EQ(o.failure->line, 2);
  EXPECT_EQ(o.failure->message, "boom");
  o = run("\n\nlocal t = nil\nreturn t.x");
  EXPECT_EQ(o.failure->line, 4);
  o = run("\nerror({})");
  EXPECT_EQ(o.failure->message, "(error object is a table value)");
  EXPECT_EQ(o.failure->line, 2);
  o = run("\n\nerror('no position', 0)");
  EXPECT_EQ(o.failure->message, "no position");
  EXPECT_EQ(o.failure->line, 3);
}

TEST(ScriptVm, TheSandboxHoldsOnlyWhatIsAllowed) {
  const auto o = run(R"(
    local absent = {}
    for _, name in ipairs({"io", "os", "debug", "package", "require", "dofile", "loadfile",
        "load", "loadstring", "collectgarbage", "coroutine", "print", "setmetatable",
        "getmetatable", "rawset", "warn", "module"}) do
      if _G[name] ~= nil then absent[#absent + 1] = name end
    end
    if string.dump ~= nil or ("").dump ~= nil then absent[#absent + 1] = "string.dump" end
    return {present = absent, ok = type(pcall) == "function" and type(string.find) == "function"
      and type(table.concat) == "function" and type(math.floor) == "function"
      and type(utf8.char) == "function" and type(xpcall) == "function"})");
  ASSERT_FALSE(o.failure) << o.failure->message;
  EXPECT_EQ(o.result["present"], json::object()) << o.result.dump();
  EXPECT_EQ(o.result["ok"], true);
}

TEST(ScriptVm, EachRunHasItsOwnEnvironment) {
  script_vm vm(
      "local before = string.find ~= nil; string.find = nil; leaked = (leaked or 0) + 1; "
      "return {before = before, leaked = leaked}",
      {});
  ASSERT_TRUE(vm.compiled());
  for (int i = 0; i < 3; ++i) {
    vm.start(nullptr);
    while (vm.resume(clock_type::now() + std::chrono::milliseconds(1)) ==
           script_vm::step::yielded) {
    }
    ASSERT_FALSE(vm.failure()) << vm.failure()->message;
    EXPECT_EQ(vm.result(), json::parse(R"({"before":true,"leaked":1})"));
    EXPECT_TRUE(vm.reusable());
  }
}

TEST(ScriptVm, EndlessLoopsYieldEverySlice) {
  script_vm vm("while true do end", {});
  vm.start(nullptr);
  // The bound is on the CPU a slice used, not on wall time: on a shared machine the
  // thread can be preempted for milliseconds past its slice end without being late.
  for (int i = 0; i < 20; ++i) {
    const std::clock_t cpu_before = std::clock();
    EXPECT_EQ(vm.resume(clock_type::now() + std::chrono::microseconds(200)),
              script_vm::step::yielded);
    const double cpu_ms = 1000.0 * double(std::clock() - cpu_before) / CLOCKS_PER_SEC;
    EXPECT_LT(cpu_ms, 5.0);
  }
  EXPECT_GT(vm.stats().instructions, 1000U);
  // Yields cross pcall.
  script_vm nested("while true do pcall(function() while true do end end) end", {});
  nested.start(nullptr);
  EXPECT_EQ(nested.resume(clock_type::now() + std::chrono::microseconds(200)),
            script_vm::step::yielded);
  EXPECT_EQ(nested.resume(clock_type::now() + std::chrono::microseconds(200)),
            script_vm::step::yielded);
}

TEST(ScriptVm, StopEndsARunThatCannotYield) {
  std::atomic<bool> stop{true};
  script_vm vm("table.sort({3, 2, 1}, function() while true do end end)", {});
  vm.start(nullptr);
  EXPECT_EQ(vm.resume(clock_type::now() + std::chrono::seconds(10), &stop),
            script_vm::step::finished);
  ASSERT_TRUE(vm.failure());
  EXPECT_EQ(vm.failure()->what, script_failure::kind::stopped);
  EXPECT_FALSE(vm.reusable());
}

TEST(ScriptVm, BurstLimitEndsUnyieldableStretches) {
  script_limits limits;
  limits.burst = std::chrono::milliseconds(20);
  for (const char* src : {
           "table.sort({3, 2, 1}, function() while true do end end)",
           "string.gsub('aaaa', 'a', function() while true do end end)",
           "table.sort({3,2,1}, function() while true do pcall(function() while true do end end) "
           "end end)",
           "xpcall(function() table.sort({1,2,3}, function() while true do end end) end, "
           "function() while true do end end)",
       }) {
    const auto start = clock_type::now();
    const auto o = run(src, nullptr, limits, std::chrono::seconds(5));
    const auto took = clock_type::now() - start;
    ASSERT_TRUE(o.failure) << src;
    // Including the comparator that catches the kill error in a pcall (the hook then
    // raises at every instruction, so the loop around that pcall raises too) and the
    // stock xpcall's trap, whose handler would run with hooks off.
    EXPECT_EQ(o.failure->what, script_failure::kind::burst) << src << ": " << o.failure->message;
    EXPECT_LT(took, std::chrono::seconds(2)) << src;
  }
}

TEST(ScriptVm, MemoryCapIsHard) {
  script_limits limits;
  limits.memory_bytes = 4 * 1024 * 1024;
  for (const char* src : {"local s = 'x' while true do s = s .. s end",
                          "local t, i = {}, 0 while true do i = i + 1 t[i] = i end",
                          "local function f(n) return 1 + f(n + 1) end return f(1)"}) {
    const auto o = run(src, nullptr, limits);
    ASSERT_TRUE(o.failure) << src;
    EXPECT_TRUE(o.failure->what == script_failure::kind::memory ||
                (o.failure->what == script_failure::kind::runtime &&
                 o.failure->message.find("stack overflow") != std::string::npos))
        << src << ": " << o.failure->message;
    EXPECT_LE(o.stats.memory_peak, limits.memory_bytes);
  }
  const auto o = run("return string.rep('x', 2^31)", nullptr, limits);
  ASSERT_TRUE(o.failure);
}

TEST(ScriptVm, PatternsHaveAStepBudget) {
  // A generous burst limit: building the test's megabyte subjects must not meet it on a
  // slow sanitizer build; what is under test is the pattern step budget.
  script_limits limits;
  limits.burst = std::chrono::milliseconds(500);
  for (const char* src :
       {"return (('a'):rep(1e5)):find('a*b')", "return (('a'):rep(3000)):find('.-.-b')",
        "return (('a'):rep(26)):find(('a?'):rep(26) .. ('a'):rep(26))",
        "return (('a'):rep(1e6)):find(('a'):rep(5e5) .. 'b', 1, true)"}) {
    const auto start = clock_type::now();
    const auto o = run(src, nullptr, limits);
    ASSERT_TRUE(o.failure) << src;
    // The step budget, or the burst limit when the machine is slow enough that the
    // time runs out first: either way the call ends, saying why.
    const bool budget = o.failure->what == script_failure::kind::runtime &&
                        o.failure->message.find("too expensive") != std::string::npos;
    const bool burst = o.failure->what == script_failure::kind::burst &&
                       (o.failure->message.find("pattern match") != std::string::npos ||
                        o.failure->message.find("string.find") != std::string::npos);
    EXPECT_TRUE(budget || burst) << o.failure->message;
    EXPECT_LT(clock_type::now() - start, std::chrono::seconds(2)) << src;
  }
  // Ordinary matching is unaffected.
  const auto ok = run(R"(local n = 0 for w in (("word "):rep(200000)):gmatch("%a+") do n = n + 1 end
                         return n)",
                      nullptr, limits);
  ASSERT_FALSE(ok.failure) << ok.failure->message;
  EXPECT_EQ(ok.result, 200000);
}

TEST(ScriptVm, EmitLogsAreCapped) {
  auto o = run("emit('a', 1, 2.5, true, nil, null) emit('b') return 1");
  ASSERT_FALSE(o.failure);
  EXPECT_EQ(o.log, (std::vector<std::string>{"a\t1\t2.5\ttrue\tnil\tnull", "b"}));
  script_limits limits;
  limits.max_log_bytes = 100;
  script_vm vm("for i = 1, 1000 do emit(string.rep('x', 10)) end", limits);
  vm.start(nullptr);
  while (vm.resume(clock_type::now() + std::chrono::milliseconds(1)) == script_vm::step::yielded) {
  }
  EXPECT_EQ(vm.log().size(), 10U);
  EXPECT_TRUE(vm.log_truncated());
  o = run("emit({})");
  ASSERT_TRUE(o.failure);
  EXPECT_NE(o.failure->message.find("emit: argument #1 is a table"), std::string::npos);
}

TEST(ScriptVm, SortIsSizeCapped) {
  script_limits limits;
  limits.max_sort_elements = 1000;
  const auto o =
      run("local t = {} for i = 1, 1001 do t[i] = -i end table.sort(t)", nullptr, limits);
  ASSERT_TRUE(o.failure);
  EXPECT_NE(o.failure->message.find("more than 1000 elements"), std::string::npos);
  EXPECT_FALSE(run("local t = {} for i = 1, 1000 do t[i] = -i end table.sort(t) return t[1]",
                   nullptr, limits)
                   .failure);
}

TEST(ScriptVm, XpcallHandlerRunsAfterTheError) {
  const auto o =
      run("return {xpcall(function() error('e', 0) end, function(m) return 'h:' .. m end)}");
  ASSERT_FALSE(o.failure) << o.failure->message;
  EXPECT_EQ(o.result, json::parse(R"([false,"h:e"])"));
  EXPECT_EQ(run("return {xpcall(function(a, b) return a + b end, print, 1, 2)}").result,
            json::parse("[true,3]"));
}

// Rule states (Log Detector): many compiled functions in one state, each run in a
// fresh environment with log, text and data.
namespace {

struct rule_outcome {
  std::optional<script_failure> failure;
  bool truthy = false;
  json data;
  bool launched = false;
  json launch_context;
};

rule_outcome run_rule(script_vm& vm, int ref, const json& log, const json* data, bool launch) {
  rule_outcome o;
  vm.start_rule(ref, {&log, log["Text"].get_ref<const std::string&>(), data, launch});
  while (vm.resume(clock_type::now() + std::chrono::milliseconds(5)) == script_vm::step::yielded) {
  }
  o.failure = vm.failure();
  if (!o.failure) {
    o.truthy = vm.truthy();
    if (data != nullptr && o.truthy) {
      o.failure = vm.take_data(o.data);
    }
    o.launched = vm.launched();
    o.launch_context = vm.launch_context();
  }
  return o;
}

}  // namespace

TEST(RuleVm, ManyFunctionsInOneState) {
  script_vm vm(script_limits{}, host_api::rule);
  ASSERT_TRUE(vm.ready());
  script_failure why{};
  const int a = vm.load(R"(contains(text, "park"))", true, why);  // a lone expression
  const int b = vm.load("data.k = log.n * 2 return true", true, why);
  const int c = vm.load("if x then", true, why);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(c, -1);
  EXPECT_EQ(why.what, script_failure::kind::syntax);
  EXPECT_EQ(why.line, 1);
  const json log = {{"Text", "at park position"}, {"n", 21}};
  const json data = {{"old", true}};
  EXPECT_TRUE(run_rule(vm, a, log, &data, false).truthy);
  const auto with_data = run_rule(vm, b, log, &data, false);
  EXPECT_TRUE(with_data.truthy);
  EXPECT_EQ(with_data.data, json::parse(R"({"old":true,"k":42})"));
  // The same function again: its earlier run's changes are gone (a fresh environment).
  vm.unload(a);
  const int d = vm.load("seen = (seen or 0) + 1 return seen == 1", true, why);
  EXPECT_TRUE(run_rule(vm, d, log, &data, false).truthy);
  EXPECT_TRUE(run_rule(vm, d, log, &data, false).truthy);
}

TEST(RuleVm, DataMustStayAnObject) {
  script_vm vm(script_limits{}, host_api::rule);
  script_failure why{};
  const json log = {{"Text", "x"}};
  const json data = json::object();
  for (const char* source : {"data = 5 return true", "data = {1, 2} return true",
                             "data = nil return true", "data.f = function() end return true"}) {
    const int ref = vm.load(source, true, why);
    ASSERT_GE(ref, 0) << source;
    const auto o = run_rule(vm, ref, log, &data, false);
    ASSERT_TRUE(o.failure) << source;
    EXPECT_EQ(o.failure->what, script_failure::kind::result) << source;
  }
  const int empty = vm.load("data = {} return true", true, why);
  EXPECT_EQ(run_rule(vm, empty, log, &data, false).data, json::object());
}

TEST(RuleVm, LaunchOnlyInLaunchRunsAndTheLastCallWins) {
  script_vm vm(script_limits{}, host_api::rule);
  script_failure why{};
  const json log = {{"Text", "x"}};
  const int ref = vm.load("local c = {a = 1} launch(c) c.a = 2 launch({b = text})", true, why);
  auto o = run_rule(vm, ref, log, nullptr, true);
  EXPECT_TRUE(o.launched);
  EXPECT_EQ(o.launch_context, json::parse(R"({"b":"x"})"));
  const int none = vm.load("launch()", true, why);
  o = run_rule(vm, none, log, nullptr, true);
  EXPECT_TRUE(o.launched);
  EXPECT_TRUE(o.launch_context.is_null());
  o = run_rule(vm, none, log, nullptr, false);
  ASSERT_TRUE(o.failure);
  EXPECT_NE(o.failure->message.find("launch conditions"), std::string::npos);
  // Scripts (host_api::script) have no launch at all.
  const auto script = run("return launch == nil and emit ~= nil and contains('ab', 'b')");
  EXPECT_EQ(script.result, true);
}

TEST(ScriptVm, AnswersAreBounded) {
  // An error message is cut at 1 KiB and says how long it was.
  // (100 KB: far past the cut, and built within the burst limit under TSan too.)
  const auto big_error = run("error(string.rep('x', 1e5))");
  ASSERT_TRUE(big_error.failure);
  EXPECT_LT(big_error.failure->message.size(), max_message_bytes + 100);
  EXPECT_NE(big_error.failure->message.find("cut: the message was 100000 bytes"), std::string::npos)
      << big_error.failure->message.substr(0, 200);
  // The result limit is on the escaped JSON: 200 KB of control characters is 1.2 MB
  // once written, past a 1 MiB limit; the message names the limit, not what was left.
  script_limits limits;
  limits.max_result_bytes = 1024 * 1024;
  const auto escaped = run("return string.rep('\\1', 200000)", nullptr, limits);
  ASSERT_TRUE(escaped.failure);
  EXPECT_EQ(escaped.failure->what, script_failure::kind::result_too_large);
  EXPECT_NE(escaped.failure->message.find("1048576 bytes"), std::string::npos)
      << escaped.failure->message;
  const auto nested = run("return {a = string.rep('\"', 600000)}", nullptr, limits);
  ASSERT_TRUE(nested.failure);
  EXPECT_NE(nested.failure->message.find("1048576 bytes"), std::string::npos)
      << nested.failure->message;
  EXPECT_NE(nested.failure->message.find("/a"), std::string::npos) << nested.failure->message;
  EXPECT_FALSE(run("return string.rep('\\1', 100000)", nullptr, limits).failure);
}

TEST(ScriptVm, BigSortsAreSlicedNotStopped) {
  // Past 2,048 elements table.sort is a merge sort in Lua: a 65,536-number sort (about
  // the burst limit in C) and a slow comparator over 5,000 elements (seconds of C
  // without a yield) both run in many slices and finish sorted.
  const auto numbers =
      run("local t = {} for i = 1, 65536 do t[i] = (i * 7919) % 65536 end table.sort(t) "
          "for i = 2, #t do assert(t[i - 1] <= t[i]) end return {t[1], t[#t]}");
  ASSERT_FALSE(numbers.failure) << numbers.failure->message;
  EXPECT_EQ(numbers.result, json::parse("[0, 65535]"));
  EXPECT_GT(numbers.slices, 10U);
  const auto slow =
      run("local t = {} for i = 1, 5000 do t[i] = -i end "
          "table.sort(t, function(a, b) for _ = 1, 200 do end return a < b end) return {t[1], "
          "t[5000]}");
  ASSERT_FALSE(slow.failure) << slow.failure->message;
  EXPECT_EQ(slow.result, json::parse("[-5000, -1]"));
  // Errors read as the C sort's do.
  const auto hole = run("local t = {} for i = 1, 5000 do t[i] = i end t[9] = nil\ntable.sort(t)");
  ASSERT_TRUE(hole.failure);
  EXPECT_EQ(hole.failure->message, "attempt to compare number with nil");
  EXPECT_EQ(hole.failure->line, 2);
}

TEST(ScriptVm, InstructionsAreCountedExactly) {
  // GETTABUP input, GETTABUP input, MUL, RETURN: a tiny script no longer shows 0.
  EXPECT_EQ(run("return input * input", 12).stats.instructions, 4U);
  const auto loop = run("local s = 0 for i = 1, 10000 do s = s + i end return s");
  EXPECT_EQ(loop.result, 50005000);
  EXPECT_EQ(loop.stats.instructions, 20006U);
}
