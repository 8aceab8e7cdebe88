// Access log (JSON lines that always parse, whatever bytes the client sent), and
// SIGHUP: log files reopened by name, log level re-read, connections kept.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// Polls until `path` holds at least `count` lines (the log thread writes them
// asynchronously and flushes files once a second); bounded.
std::vector<std::string> wait_for_lines(const std::string& path, std::size_t count) {
  std::vector<std::string> lines;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < until;) {
    lines = lines_of(read_file(path));
    if (lines.size() >= count) {
      break;
    }
    std::this_thread::sleep_for(20ms);  // polling a file another process writes
  }
  return lines;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  http_client c(port);
  c.send(bytes);
  const auto res = c.read_response();
  return res ? std::to_string(res->status) : "none";
}

}  // namespace

TEST(AccessLog, JsonLinesParseWhateverTheClientSent) {
  const std::string log = write_temp_file("", ".log");
  evald_process::options opts;
  opts.config_json = R"({"logging": {"access": "json", "access_file": ")" + log + R"("}})";
  evald_process server(opts);
  const auto port = server.port();
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
      {"GET /a\"b\\c%0A%22 HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
      {"GET /\xFF\xFE\xC3\x28\xED\xA0\x80 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"GET /caf\xC3\xA9 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"GET /x\x01y HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"GET / HTTP/1.1\r\nHost: x\r\nBad\"Header\r\n\r\n", "400"},
      {"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "501"},
      {"GET /chargen?bytes=777 HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
  };
  for (const auto& [bytes, status] : requests) {
    ASSERT_EQ(raw_exchange(port, bytes), status) << bytes;
  }
  ASSERT_EQ(server.stop(), 0);
  const auto lines = lines_of(read_file(log));
  ASSERT_EQ(lines.size(), requests.size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json j;
    ASSERT_NO_THROW(j = json::parse(lines[i])) << lines[i];
    for (const char* key : {"time", "remote", "method", "target", "version", "status", "bytes",
                            "wall_us", "cpu_us", "worker", "request_id"}) {
      EXPECT_TRUE(j.contains(key)) << key << " in " << lines[i];
    }
    ids.insert(j["request_id"].get<std::string>());
    EXPECT_TRUE(j["remote"].get<std::string>().starts_with("127.0.0.1:"));
  }
  EXPECT_EQ(ids.size(), lines.size());  // request ids are unique
  // Lines are written in completion order; find them by status and content.
  std::map<std::string, json> by_target;
  for (const auto& l : lines) {
    const json j = json::parse(l);
    by_target[j["method"].get<std::string>() + " " + j["target"].get<std::string>()] = j;
  }
  EXPECT_EQ(by_target.at("GET /healthz")["status"], 200);
  EXPECT_EQ(by_target.at("GET /healthz")["bytes"], 15);
  EXPECT_EQ(by_target.at("BREW /healthz")["status"], 501);
  EXPECT_EQ(by_target.at("GET /a\"b\\c%0A%22")["status"], 404);
  EXPECT_EQ(by_target.at("GET /chargen?bytes=777")["bytes"], 777);
  // Invalid UTF-8 became U+FFFD; valid UTF-8 stayed.
  EXPECT_TRUE(
      by_target.contains("GET /\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD"
                         "\xEF\xBF\xBD"));
  EXPECT_TRUE(by_target.contains("GET /caf\xC3\xA9"));
}

TEST(AccessLog, SighupReopensFilesAndKeepsConnections) {
  const std::string log = write_temp_file("", ".log");
  const std::string rotated = log + ".1";
  evald_process::options opts;
  opts.config_json = R"({"logging": {"access": "text", "access_file": ")" + log + R"("}})";
  evald_process server(opts);
  http_client kept(server.port());
  kept.send(get_request("/healthz"));
  ASSERT_EQ(kept.read_response()->status, 200);
  ASSERT_EQ(wait_for_lines(log, 1).size(), 1U);
  ASSERT_EQ(std::rename(log.c_str(), rotated.c_str()), 0);  // what logrotate does
  server.signal(SIGHUP);
  // The reopen creates a new file under the old name; wait for it (bounded).
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !std::ifstream(log).good() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::ifstream(log).good()) << "no new log file after SIGHUP";
  kept.send(get_request("/healthz?after=rotation"));
  const auto res = kept.read_response();  // same connection: not dropped
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);  // unknown parameter, still answered
  const auto fresh = wait_for_lines(log, 1);
  ASSERT_EQ(fresh.size(), 1U);
  EXPECT_NE(fresh[0].find("/healthz?after=rotation"), std::string::npos);
  const auto old = lines_of(read_file(rotated));
  ASSERT_EQ(old.size(), 1U);
  EXPECT_NE(old[0].find("\"GET /healthz HTTP/1.1\" 200 15"), std::string::npos);
  std::remove(rotated.c_str());
}

TEST(Logging, SighupRereadsTheLogLevel) {
  const std::string config = write_temp_file(R"({"logging": {"level": "warn"}})", ".json");
  evald_process::options opts;
  opts.args = {"--config", config};
  evald_process server(opts);
  EXPECT_EQ(server.stderr_text().find("started"), std::string::npos);  // info is off
  { std::ofstream(config, std::ios::trunc) << R"({"logging": {"level": "info"}})"; }
  server.signal(SIGHUP);
  bool seen = false;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !seen && std::chrono::steady_clock::now() < until;) {
    seen = server.stderr_text().find("log level is info") != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(seen) << server.stderr_text();
  // A broken file on reload keeps the server and its settings.
  { std::ofstream(config, std::ios::trunc) << R"({"logging": {"level": "loud"}})"; }
  server.signal(SIGHUP);
  seen = false;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !seen && std::chrono::steady_clock::now() < until;) {
    seen = server.stderr_text().find("reload failed") != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(seen) << server.stderr_text();
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
  EXPECT_EQ(server.stop(), 0);
}
