#include "handlers/json_keys.hpp"

#include <gtest/gtest.h>

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
