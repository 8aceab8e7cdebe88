// JSON and text escaping of untrusted bytes for the access log, and the line formats.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "server/access_log.hpp"
#include "server/json_text.hpp"

using namespace evald;
using json = nlohmann::json;

namespace {

std::string json_string(std::string_view bytes) {
  std::string out;
  append_json_string(out, bytes);
  return out;
}

}  // namespace

TEST(JsonText, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_string("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(json_string(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(json_string(std::string("a\0b", 3)), R"("a\u0000b")");
}

TEST(JsonText, KeepsValidUtf8AndReplacesEveryInvalidByte) {
  EXPECT_EQ(json_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(json_string("\xFF"), "\"" + fffd + "\"");
  EXPECT_EQ(json_string("\xC0\x80"), "\"" + fffd + fffd + "\"");             // overlong NUL
  EXPECT_EQ(json_string("\xED\xA0\x80"), "\"" + fffd + fffd + fffd + "\"");  // surrogate
  EXPECT_EQ(json_string("\xF4\x90\x80\x80").size(), 2 + 4 * fffd.size());    // past U+10FFFF
  EXPECT_EQ(json_string("\xE2\x82"), "\"" + fffd + fffd + "\"");             // truncated
  EXPECT_EQ(json_string("\xC3("), "\"" + fffd + "(\"");
}

TEST(JsonText, RandomBytesAlwaysGiveJsonThatParses) {
  std::mt19937_64 rng(20261121);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (auto& c : bytes) {
      c = static_cast<char>(rng());
    }
    const std::string text = json_string(bytes);
    json parsed;
    ASSERT_NO_THROW(parsed = json::parse(text)) << text;
    // Valid input round-trips unchanged.
    if (json_string(parsed.get<std::string>()) == text &&
        text.find("\xEF\xBF\xBD") == std::string::npos) {
      EXPECT_EQ(parsed.get<std::string>(), bytes);
    }
  }
}

TEST(JsonText, TextEscapingKeepsOneLine) {
  std::string out;
  append_escaped_text(out, "a\"b\\c\nd\xFF");
  EXPECT_EQ(out, R"(a\"b\\c\x0ad\xff)");
}

TEST(AccessLog, JsonLineHasEveryField) {
  access_entry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795268243123));
  e.remote = "127.0.0.1:5555";
  e.method = "GET";
  e.target = "/x?\"\n\xFF";
  e.status = 404;
  e.bytes = 76;
  e.wall_us = 12;
  e.cpu_us = 3;
  e.worker = 1;
  e.sequence = 42;
  std::string line;
  format_access_entry(line, access_format::json, e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json j = json::parse(line);
  EXPECT_EQ(j["time"], "2026-11-21T13:37:23.123Z");
  EXPECT_EQ(j["remote"], "127.0.0.1:5555");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["target"], "/x?\"\n\xEF\xBF\xBD");
  EXPECT_EQ(j["version"], "HTTP/1.1");
  EXPECT_EQ(j["status"], 404);
  EXPECT_EQ(j["bytes"], 76);
  EXPECT_EQ(j["wall_us"], 12);
  EXPECT_EQ(j["cpu_us"], 3);
  EXPECT_EQ(j["worker"], 1);
  EXPECT_EQ(j["request_id"], "1-42");
}

TEST(AccessLog, TextLine) {
  access_entry e;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795268243123));
  e.remote = "[::1]:80";
  e.method = "HEAD";
  e.target = "/a b";
  e.version = 10;
  e.status = 200;
  std::string line;
  format_access_entry(line, access_format::text, e);
  EXPECT_EQ(
      line,
      R"(2026-11-21T13:37:23.123Z [::1]:80 "HEAD /a b HTTP/1.0" 200 0 wall_us=0 cpu_us=0 worker=0 id=0-0)");
}
