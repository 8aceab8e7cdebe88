// The dashboard's data routes against the real binary: /stats and the event stream
// (bounded by dashboard.max_streams, one serialisation shared by every subscriber,
// ended by the drain without delaying it), every worker's compute share rising under
// a trial division, the figures also in /metrics, and dashboard.enabled = false.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

// An open /stats/stream: the raw bytes (chunked) as they arrive.
struct event_stream {
  explicit event_stream(std::uint16_t port) : client(port, std::chrono::seconds(10)) {
    client.send("GET /stats/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  // Reads until `count` events have arrived; returns their data lines.
  std::vector<std::string> events(std::size_t count) {
    for (int i = 0; i < 100000 && data_lines().size() < count; ++i) {
      const std::string more = client.read_raw(1);
      if (more.empty()) {
        break;
      }
      raw += more;
    }
    return data_lines();
  }
  std::vector<std::string> data_lines() const {
    std::vector<std::string> out;
    for (std::size_t at = raw.find("data: "); at != std::string::npos;
         at = raw.find("data: ", at + 1)) {
      const auto end = raw.find("\n\n", at);
      if (end == std::string::npos) {
        break;
      }
      out.push_back(raw.substr(at + 6, end - at - 6));
    }
    return out;
  }
  http_client client;
  std::string raw;
};

json stats(std::uint16_t port) {
  return json::parse(get(port, "/stats").body);
}

}  // namespace

TEST(Dashboard, StreamsAreBoundedSharedAndEndAtTheDrain) {
  evald_process::options o;
  o.config_json = R"({"dashboard":{"max_streams":2}})";
  evald_process server(o);
  event_stream a(server.port());
  event_stream b(server.port());
  const auto from_a = a.events(2);
  const auto from_b = b.events(2);
  ASSERT_EQ(from_a.size(), 2u) << a.raw;
  ASSERT_EQ(from_b.size(), 2u) << b.raw;
  EXPECT_NE(a.raw.find("Content-Type: text/event-stream"), std::string::npos) << a.raw;
  EXPECT_LT(json::parse(from_a[0])["time"], json::parse(from_a[1])["time"]);
  // The same snapshot reaches both subscribers as the same bytes.
  for (const auto& e : from_a) {
    if (json::parse(e)["time"] == json::parse(from_b.back())["time"]) {
      EXPECT_EQ(e, from_b.back());
    }
  }
  const auto third = get(server.port(), "/stats/stream");
  EXPECT_EQ(third.status, 503);
  EXPECT_NE(third.body.find("too_many_streams"), std::string::npos) << third.body;
  EXPECT_EQ(third.header("Retry-After"), "5");

  const json s = stats(server.port());
  EXPECT_EQ(s["current"]["workers"].size(), 2u);
  EXPECT_GE(s["history"].size(), 2u);
  EXPECT_LE(s["history"].size(), 60u);
  EXPECT_EQ(s["current"]["jobs"]["scope"], "node");
  const std::string metrics = get(server.port(), "/metrics").body;
  EXPECT_NE(metrics.find("evald_dashboard_streams 2"), std::string::npos);
  EXPECT_NE(metrics.find("evald_worker_requests_total{worker=\"1\"}"), std::string::npos);
  EXPECT_NE(metrics.find("evald_worker_connections_open{worker=\"0\"}"), std::string::npos);

  // A drain with two dashboards open: both streams end (a last chunk), and the
  // process exits at once instead of waiting for them.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  for (auto* st : {&a, &b}) {
    std::string rest;
    for (std::string more = st->client.read_raw(4096); !more.empty();
         more = st->client.read_raw(4096)) {
      rest += more;
    }
    st->raw += rest;
    EXPECT_TRUE(st->raw.ends_with("0\r\n\r\n")) << st->raw.substr(st->raw.size() - 40);
  }
}

TEST(Dashboard, EveryWorkersComputeShareRisesUnderALongJob) {
  evald_process server;
  const auto launched = [&] {
    http_client c(server.port());
    // A script map (in chunks over both workers) whose every input loops until the job
    // is cancelled: it keeps both
    // workers computing for as long as the test looks (a trial division could end
    // first on a fast machine, or before a slow one's snapshot).
    std::string inputs;
    for (int i = 0; i < 1000; ++i) {
      inputs += (i ? "," : "") + std::to_string(i);
    }
    const std::string body = R"({"workload":"script","source":"while true do end","inputs":[)" +
                             inputs + R"(],"timeout_ms":300000})";
    c.send(
        "POST /eval-launch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.read_response();
  }();
  ASSERT_TRUE(launched && launched->status == 202);
  // Snapshots come once a second: watch them (polling /stats, not timing) until
  // one shows both workers above half a core in compute slices.
  json seen;
  bool both = false;
  for (int i = 0; i < 300 && !both; ++i) {
    seen = stats(server.port())["current"];
    both = seen.is_object() && seen["workers"].size() == 2 &&
           seen["workers"][0]["compute"].get<double>() > 0.5 &&
           seen["workers"][1]["compute"].get<double>() > 0.5;
    if (!both) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(both) << seen.dump();
  EXPECT_GE(seen["jobs"]["by_status"]["running"].get<int>(), 1) << seen.dump();
  // The job's tenant (clients without a key are "anonymous") has that share of each
  // worker in the same snapshot: its slices are the compute there.
  for (const auto& w : seen["workers"]) {
    EXPECT_GT(w["tenants"].value("anonymous", 0.0), 0.5) << seen.dump();
  }
  const std::string id = json::parse(launched->body).value("id", "");
  http_client c(server.port());
  c.send("DELETE /jobs/" + id + " HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto cancelled = c.read_response();
  EXPECT_TRUE(cancelled && cancelled->status == 200);
}

TEST(Dashboard, OffMeansNotFound) {
  evald_process::options o;
  o.config_json = R"({"dashboard":{"enabled":false}})";
  evald_process server(o);
  for (const char* path : {"/", "/stats", "/stats/stream"}) {
    EXPECT_EQ(get(server.port(), path).status, 404) << path;
  }
  EXPECT_EQ(get(server.port(), "/openapi.json").status, 200);
  EXPECT_EQ(get(server.port(), "/metrics").body.find("evald_dashboard_streams"), std::string::npos);
}
