#include "handlers/json/json_keys.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace {

// The key parse_json_rejecting_duplicate_keys reports twice, or nullopt when it
// parses the text, or finds it malformed (json::parse's own error).
std::optional<std::string> first_duplicate_key(std::string_view text) {
  try {
    evald::parse_json_rejecting_duplicate_keys(text);
  } catch (const evald::duplicate_json_key& e) {
    return e.key;
  } catch (const nlohmann::json::parse_error&) {
  }
  return std::nullopt;
}

}  // namespace

TEST(JsonKeys, DistinctKeysHaveNoDuplicate) {
  EXPECT_EQ(first_duplicate_key(R"({"a":1,"b":{"a":2,"b":[{"a":3},{"a":4}]}})"), std::nullopt);
  EXPECT_EQ(first_duplicate_key(R"([{"n":"1"},{"n":"2"},{"n":"3"}])"), std::nullopt);
  EXPECT_EQ(first_duplicate_key(R"({})"), std::nullopt);
  EXPECT_EQ(first_duplicate_key(R"("just a string")"), std::nullopt);
}

TEST(JsonKeys, FindsTheRepeatedKeyAtAnyDepth) {
  EXPECT_EQ(first_duplicate_key(R"({"n":1,"n":2})"), "n");
  EXPECT_EQ(first_duplicate_key(R"({"items":[{"n":"7"},{"workload":"prime","n":"5","n":"6"}]})"),
            "n");
  // After the inner object closed, its keys no longer count for the outer one.
  EXPECT_EQ(first_duplicate_key(R"({"a":{"b":1},"b":2,"a":3})"), "a");
  // Escapes are decoded before comparing: "\u006e" is "n".
  EXPECT_EQ(first_duplicate_key(R"({"n":1,"\u006e":2})"), "n");
}

TEST(JsonKeys, MalformedTextIsAParseErrorNotADuplicate) {
  EXPECT_EQ(first_duplicate_key(R"({"n":1,)"), std::nullopt);
  EXPECT_EQ(first_duplicate_key(""), std::nullopt);
}

TEST(JsonKeys, AnObjectWithManyKeysAndAnArrayWithManyObjects) {
  std::string wide = "{";
  for (int i = 0; i < 50'000; ++i) {
    wide += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":0");
  }
  EXPECT_EQ(first_duplicate_key(wide + "}"), std::nullopt);
  EXPECT_EQ(first_duplicate_key(wide + ",\"k49999\":1}"), "k49999");

  std::string long_array = "[";
  for (int i = 0; i < 100'000; ++i) {
    long_array += (i ? "," : "") + std::string(R"({"workload":"prime","n":"97"})");
  }
  EXPECT_EQ(first_duplicate_key(long_array + "]"), std::nullopt);
}

TEST(JsonParse, DepthLimitNamesTheByte) {
  const std::string deep = std::string(33, '[') + std::string(33, ']');
  try {
    evald::parse_json_rejecting_duplicate_keys(deep, 32);
    FAIL() << "no error";
  } catch (const evald::json_too_deep& e) {
    EXPECT_EQ(e.byte, 33U);
  }
  EXPECT_NO_THROW(evald::parse_json_rejecting_duplicate_keys(deep.substr(1, 64), 32));
  // Empty containers count as a level too.
  EXPECT_THROW(evald::parse_json_rejecting_duplicate_keys(R"({"a":{"b":[]}})", 2),
               evald::json_too_deep);
}

TEST(JsonParse, StrictRfc8259) {
  using nlohmann::json;
  const auto parse = [](std::string_view t) {
    return evald::parse_json_rejecting_duplicate_keys(t);
  };
  EXPECT_EQ(parse(R"( {"a" : [1, -2, 3.5, true, false, null, "x"]} )"),
            json::parse(R"({"a":[1,-2,3.5,true,false,null,"x"]})"));
  EXPECT_EQ(parse(R"("\ud83d\ude00 \u00e9\n\t\"\\\/")"), "\xF0\x9F\x98\x80 \xC3\xA9\n\t\"\\/");
  EXPECT_TRUE(parse("18446744073709551615").is_number_unsigned());
  EXPECT_TRUE(parse("-9223372036854775808").is_number_integer());
  EXPECT_TRUE(parse("18446744073709551616").is_number_float());
  EXPECT_THROW(parse("1e999"), json::out_of_range);
  for (const char* bad : {"",
                          "01",
                          "1.",
                          "-",
                          "+1",
                          ".5",
                          "1e",
                          "[1,]",
                          "{\"a\":1,}",
                          "{a:1}",
                          "'x'",
                          "tru",
                          "nul",
                          "\"\\x\"",
                          "\"\\ud800\"",
                          "\"\\udc00\"",
                          "\"\\ud800\\u0041\"",
                          "\"a\tb\"",
                          "\"\xff\"",
                          "\"\xc0\xaf\"",
                          "\"\xed\xa0\x80\"",
                          "[1] 2",
                          "{\"a\" 1}",
                          "[",
                          "\"abc",
                          "\"\\u12"}) {
    EXPECT_THROW(parse(bad), json::parse_error) << bad;
  }
  try {
    parse(R"({"a":1,"b":x})");
  } catch (const json::parse_error& e) {
    EXPECT_EQ(e.byte, 12U);
  }
}

namespace {

// The value (or the error's what() and byte) of a parse in steps of `step` bytes, and
// how many calls of advance() it took.
struct stepped_outcome {
  nlohmann::json value;
  std::string error;
  std::size_t calls = 0;
};

stepped_outcome parse_in_steps(std::string_view text, std::size_t step, std::size_t depth = 32) {
  stepped_outcome o;
  try {
    evald::json_incremental_parser p(text, depth);
    do {
      ++o.calls;
    } while (!p.advance(step));
    o.value = p.take();
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

stepped_outcome parse_at_once(std::string_view text, std::size_t depth = 32) {
  stepped_outcome o;
  try {
    o.value = evald::parse_json_rejecting_duplicate_keys(text, depth);
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

}  // namespace

TEST(JsonParse, InStepsGivesTheSameValueOrErrorForEveryStepSize) {
  std::string big = R"({"items":[)";
  for (int i = 0; i < 500; ++i) {
    big += (i ? "," : "") + std::string(R"({"workload":"factor","n":")") + std::to_string(i) +
           R"(","tags":[1,2.5,true,null,{"k":"v\u00e9"}]})";
  }
  big += R"(],"chunk":3})";
  const std::string texts[] = {big,
                               big.substr(0, big.size() - 1),                 // truncated
                               big.substr(0, 4000) + "x" + big.substr(4001),  // a bad byte
                               R"({"a":1,"b":[{"c":2},{"c":3}],"a":4})",      // duplicate
                               std::string(40, '[') + std::string(40, ']'),   // too deep
                               R"([1e999])",
                               R"("a long string of one value")",
                               "[]",
                               "7"};
  for (const auto& text : texts) {
    const auto once = parse_at_once(text);
    for (const std::size_t step : {1UL, 2UL, 3UL, 7UL, 64UL, 1000UL, 8192UL}) {
      const auto stepped = parse_in_steps(text, step);
      EXPECT_EQ(stepped.error, once.error) << "step " << step << ": " << text.substr(0, 60);
      EXPECT_EQ(stepped.value, once.value) << "step " << step << ": " << text.substr(0, 60);
    }
  }
  // It really stops between values: about one call per `step` bytes.
  const auto calls = parse_in_steps(big, 1000).calls;
  EXPECT_GE(calls, big.size() / 1000 - 1);
  EXPECT_LE(calls, big.size() / 900 + 2);
  EXPECT_EQ(parse_in_steps(big, big.size()).calls, 1U);
}

TEST(JsonParse, ShedFreesATreeOneLeafAtATime) {
  const auto tree = nlohmann::json::parse(
      R"({"a":[1,[2,3],{"b":[],"c":{"d":"x"}}],"e":{},"f":[[[[]]]],"g":"long string value"})");
  // Nodes below the root: every value inside a container once.
  std::size_t nodes = 0;
  const std::function<void(const nlohmann::json&)> count = [&](const nlohmann::json& j) {
    for (const auto& child : j) {
      ++nodes;
      if (child.is_structured()) {
        count(child);
      }
    }
  };
  count(tree);
  auto j = tree;
  std::size_t calls = 0;
  while (!evald::shed_json(j, 1)) {
    ++calls;
    ASSERT_LE(calls, nodes + 1);
  }
  EXPECT_TRUE(j.is_null());
  EXPECT_GE(calls, nodes);  // one leaf per call: no subtree went in one piece
  j = tree;
  EXPECT_TRUE(evald::shed_json(j, 1000));
  nlohmann::json scalar = 7;
  EXPECT_TRUE(evald::shed_json(scalar, 1));
  EXPECT_TRUE(scalar.is_null());
}
