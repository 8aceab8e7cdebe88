// What one run can learn about another on a reused state, or about the process: no
// repeated random numbers, no addresses, no template a run can un-hide by nil.
#include <gtest/gtest.h>

#include <set>

#include "handlers/sandbox/script_vm.hpp"

using namespace evald::sandbox;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

// Runs the vm's script once more on the same state.
json run_again(script_vm& vm, std::string* error = nullptr) {
  vm.start(nullptr);
  while (vm.resume(clock_type::now() + std::chrono::milliseconds(50)) == script_vm::step::yielded) {
  }
  if (vm.failure()) {
    if (error != nullptr) {
      *error = vm.failure()->message;
    }
    return "failed: " + vm.failure()->message;
  }
  return vm.result();
}

json run_once(const std::string& source, std::string* error = nullptr) {
  script_vm vm(source, {});
  EXPECT_TRUE(vm.compiled()) << source;
  return run_again(vm, error);
}

}  // namespace

TEST(RunIsolation, RandomNumbersNeverRepeatAcrossRunsOfOneState) {
  script_vm vm("return {math.random(0), math.random(1, 1 << 50)}", {});
  ASSERT_TRUE(vm.compiled());
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const json r = run_again(vm);
    ASSERT_TRUE(vm.reusable());
    EXPECT_TRUE(seen.insert(r.dump()).second) << "run " << i << " repeated " << r.dump();
  }
}

TEST(RunIsolation, RandomseedIsHarmless) {
  EXPECT_EQ(run_once("return select('#', math.randomseed())"), 0);
  EXPECT_EQ(run_once("return select('#', math.randomseed(42))"), 0);
  // A seed the script picks still gives it a reproducible sequence.
  EXPECT_EQ(run_once("math.randomseed(42) local a = math.random(1 << 40) "
                     "math.randomseed(42) return a == math.random(1 << 40)"),
            true);
}

TEST(RunIsolation, NoAddressInAnyString) {
  for (const char* src : {"return tostring({})", "return tostring(tostring)",
                          "return tostring(string.find)", "return string.format('%s', {})",
                          "return tostring(null)", "return tostring(function() end)"}) {
    const json r = run_once(src);
    ASSERT_TRUE(r.is_string()) << src;
    EXPECT_EQ(r.get<std::string>().find("0x"), std::string::npos) << src << " gave " << r;
    EXPECT_EQ(r.get<std::string>().find(": "), std::string::npos) << src << " gave " << r;
  }
  EXPECT_EQ(run_once("return tostring({})"), "table");
  EXPECT_EQ(run_once("return tostring(print or pairs)"), "function");
  std::string error;
  run_once("return string.format('%p', {})", &error);
  EXPECT_NE(error.find("no addresses"), std::string::npos) << error;
}

TEST(RunIsolation, NilHidesATemplateMemberForTheRestOfTheRun) {
  script_vm vm(R"(
    local before = type(pairs)
    pairs = nil
    string.find = nil
    local hidden = {type(pairs), type(string.find), type(_G.pairs)}
    pairs = 5
    return {before, hidden, pairs, type(string.upper), type(ipairs)})",
               {});
  ASSERT_TRUE(vm.compiled());
  EXPECT_EQ(run_again(vm),
            json::parse(R"(["function", ["nil", "nil", "nil"], 5, "function", "function"])"));
  // The next run on the same state sees the templates whole again.
  script_vm reader("return {type(pairs), type(string.find)}", {});
  EXPECT_EQ(run_again(reader), json::parse(R"(["function", "function"])"));
  EXPECT_EQ(run_again(vm),
            json::parse(R"(["function", ["nil", "nil", "nil"], 5, "function", "function"])"));
}
