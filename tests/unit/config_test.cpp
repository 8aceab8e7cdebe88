#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "config/cli.hpp"
#include "config/ip_literal.hpp"
#include "config/load.hpp"
#include "config/units.hpp"

using namespace evald::config;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string error_of(const json& j) {
  try {
    from_json(j);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

env_lookup env_from(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

}  // namespace

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("8KiB"), 8192U);
  EXPECT_EQ(parse_size("1MiB"), 1048576U);
  EXPECT_EQ(parse_size("2GiB"), 2147483648ULL);
  EXPECT_EQ(parse_size("512"), 512U);
  EXPECT_EQ(parse_size("512B"), 512U);
  EXPECT_THROW(parse_size("8 parsecs"), std::invalid_argument);
  EXPECT_THROW(parse_size("KiB"), std::invalid_argument);
  EXPECT_THROW(parse_size("-1KiB"), std::invalid_argument);
  EXPECT_THROW(parse_size("99999999999999999999"), std::invalid_argument);
  EXPECT_THROW(parse_size("17179869184GiB"), std::invalid_argument);  // overflows 64 bits
  EXPECT_EQ(format_size(8192), "8KiB");
}

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("500us"), 500us);
  EXPECT_EQ(parse_duration("2m"), 120s);
  EXPECT_THROW(parse_duration("10"), std::invalid_argument);
  EXPECT_THROW(parse_duration("10 fortnights"), std::invalid_argument);
  EXPECT_EQ(format_duration(10s), "10s");
  EXPECT_EQ(format_duration(250ms), "250ms");
}

TEST(Config, DefaultsAreTheDocumentedOnes) {
  const settings s;
  EXPECT_EQ(s.listen, std::vector<std::string>{"127.0.0.1:8080"});
  EXPECT_EQ(s.threads, 0U);
  EXPECT_EQ(s.limits.max_connections, 10000U);
  EXPECT_EQ(s.limits.max_header_bytes, 8192U);
  EXPECT_EQ(s.limits.max_body_bytes, 1048576U);
  EXPECT_EQ(s.timeouts.header, 10s);
  EXPECT_EQ(s.timeouts.keep_alive, 30s);
  EXPECT_EQ(s.timeouts.shutdown, 10s);
}

TEST(Config, ExampleFileStatesExactlyTheDefaults) {
  const settings defaults;
  // Start from values that differ from every default, so each key must be present.
  settings other;
  other.listen = {"0.0.0.0:1"};
  other.threads = 7;
  other.limits = {1, 2048, 3, 4, 5ms, 6, 7};
  other.timeouts = {1ms, 2ms, 3ms, 4ms, 5ms};
  other.eval = {11us, 12us, 13};
  other.chargen.max_bytes = 5;
  other.chargen.tcp_listen = {"127.0.0.1:19"};
  other.logging = {"off", "x.log", "json", "y.log"};
  other.jobs = {9, 9ms};
  other.http.cache_control = "no-store";
  other.scripts = {1, 2us, 3, 4, 5, 6, false, 7us, 8};
  other.cluster = {"redis://10.0.0.1:1", "u", "pw", "x:", "n", 9ms, 1ms, 2, 3, 4ms};
  other.tenants = {false, {2, 3, 4, 5, 6}};
  const settings s = load_file(EVALD_SOURCE_DIR "/config/evald.json", other);
  EXPECT_EQ(s.listen, defaults.listen);
  EXPECT_EQ(s.threads, defaults.threads);
  EXPECT_EQ(s.limits.max_connections, defaults.limits.max_connections);
  EXPECT_EQ(s.limits.max_header_bytes, defaults.limits.max_header_bytes);
  EXPECT_EQ(s.limits.max_body_bytes, defaults.limits.max_body_bytes);
  EXPECT_EQ(s.limits.max_requests_per_connection, defaults.limits.max_requests_per_connection);
  EXPECT_EQ(s.timeouts.header, defaults.timeouts.header);
  EXPECT_EQ(s.timeouts.keep_alive, defaults.timeouts.keep_alive);
  EXPECT_EQ(s.timeouts.body, defaults.timeouts.body);
  EXPECT_EQ(s.timeouts.write_stall, defaults.timeouts.write_stall);
  EXPECT_EQ(s.timeouts.shutdown, defaults.timeouts.shutdown);
  EXPECT_EQ(s.limits.max_eval_time, defaults.limits.max_eval_time);
  EXPECT_EQ(s.limits.max_evaluations, defaults.limits.max_evaluations);
  EXPECT_EQ(s.limits.max_batch_items, defaults.limits.max_batch_items);
  EXPECT_EQ(s.eval.slice, defaults.eval.slice);
  EXPECT_EQ(s.eval.chunk_time, defaults.eval.chunk_time);
  EXPECT_EQ(s.eval.trial_precheck, defaults.eval.trial_precheck);
  EXPECT_EQ(s.chargen.max_bytes, defaults.chargen.max_bytes);
  EXPECT_EQ(s.chargen.tcp_listen, defaults.chargen.tcp_listen);
  EXPECT_EQ(s.logging.level, defaults.logging.level);
  EXPECT_EQ(s.logging.file, defaults.logging.file);
  EXPECT_EQ(s.logging.access, defaults.logging.access);
  EXPECT_EQ(s.logging.access_file, defaults.logging.access_file);
  EXPECT_EQ(s.jobs.max, defaults.jobs.max);
  EXPECT_EQ(s.jobs.ttl, defaults.jobs.ttl);
  EXPECT_EQ(s.http.cache_control, defaults.http.cache_control);
  EXPECT_EQ(s.scripts.memory, defaults.scripts.memory);
  EXPECT_EQ(s.scripts.burst, defaults.scripts.burst);
  EXPECT_EQ(s.scripts.max_source, defaults.scripts.max_source);
  EXPECT_EQ(s.scripts.max_result, defaults.scripts.max_result);
  EXPECT_EQ(s.scripts.max_log, defaults.scripts.max_log);
  EXPECT_EQ(s.scripts.max_named, defaults.scripts.max_named);
  EXPECT_EQ(s.scripts.reuse_states, defaults.scripts.reuse_states);
  EXPECT_EQ(s.scripts.condition_time, defaults.scripts.condition_time);
  EXPECT_EQ(s.scripts.condition_cache, defaults.scripts.condition_cache);
  EXPECT_EQ(s.cluster.redis, defaults.cluster.redis);
  EXPECT_EQ(s.cluster.user, defaults.cluster.user);
  EXPECT_EQ(s.cluster.password, defaults.cluster.password);
  EXPECT_EQ(s.tenants.fair, defaults.tenants.fair);
  EXPECT_TRUE(s.tenants.defaults == defaults.tenants.defaults);
  EXPECT_EQ(s.cluster.prefix, defaults.cluster.prefix);
  EXPECT_EQ(s.cluster.node_id, defaults.cluster.node_id);
  EXPECT_EQ(s.cluster.lease, defaults.cluster.lease);
  EXPECT_EQ(s.cluster.heartbeat, defaults.cluster.heartbeat);
  EXPECT_EQ(s.cluster.max_deliveries, defaults.cluster.max_deliveries);
  EXPECT_EQ(s.cluster.jobs_per_worker, defaults.cluster.jobs_per_worker);
  EXPECT_EQ(s.cluster.command_timeout, defaults.cluster.command_timeout);
  EXPECT_EQ(s.cluster.split_time, defaults.cluster.split_time);
  EXPECT_EQ(s.cluster.part_time, defaults.cluster.part_time);
  EXPECT_EQ(s.cluster.map_part_inputs, defaults.cluster.map_part_inputs);
  EXPECT_EQ(s.dashboard.enabled, defaults.dashboard.enabled);
  EXPECT_EQ(s.dashboard.max_streams, defaults.dashboard.max_streams);
}

TEST(Config, ErrorsNameTheJsonPath) {
  EXPECT_NE(
      error_of({{"limits", {{"max_conections", 5}}}}).find("/limits/max_conections: unknown key"),
      std::string::npos);
  EXPECT_NE(error_of({{"threads", "two"}}).find("/threads: expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of({{"threads", -1}}).find("/threads"), std::string::npos);
  EXPECT_NE(error_of({{"threads", 5000}}).find("from 0 to 1024"), std::string::npos);
  EXPECT_NE(error_of({{"timeouts", {{"header", 10}}}}).find("/timeouts/header"), std::string::npos);
  EXPECT_NE(error_of({{"timeouts", {{"header", "10 years"}}}}).find("unknown duration unit"),
            std::string::npos);
  EXPECT_NE(error_of({{"limits", {{"max_header_size", "1GiB"}}}}).find("/limits/max_header_size"),
            std::string::npos);
  EXPECT_NE(error_of({{"listen", {"127.0.0.1"}}}).find("/listen/0"), std::string::npos);
  EXPECT_NE(error_of({{"listen", json::array()}}).find("/listen"), std::string::npos);
  EXPECT_NE(error_of({{"logging", {{"level", "loud"}}}}).find("/logging/level"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("expected an object"), std::string::npos);
  EXPECT_EQ(error_of({{"listen", {"[::1]:0", "localhost:80"}}}), "");
}

TEST(Config, PrecedenceDefaultsFileEnvironmentFlags) {
  const char* argv[] = {"evald", "--config", EVALD_SOURCE_DIR "/config/evald.json", "--threads",
                        "3"};
  const cli_options cli = parse_cli(5, argv);
  const settings s = resolve_settings(cli, env_from({{"EVALD_THREADS", "2"},
                                                     {"EVALD_LISTEN", "127.0.0.1:9000,[::1]:9001"},
                                                     {"EVALD_LOG_LEVEL", "debug"}}));
  EXPECT_EQ(s.threads, 3U);  // flag beats environment
  EXPECT_EQ(s.listen, (std::vector<std::string>{"127.0.0.1:9000", "[::1]:9001"}));
  EXPECT_EQ(s.logging.level, "debug");
  EXPECT_THROW(resolve_settings(cli, env_from({{"EVALD_THREADS", "many"}})), config_error);
}

TEST(Config, CommandLineErrors) {
  const char* unknown[] = {"evald", "--frobnicate"};
  EXPECT_THROW(parse_cli(2, unknown), config_error);
  const char* missing[] = {"evald", "--listen"};
  EXPECT_THROW(parse_cli(2, missing), config_error);
  const char* bad_threads[] = {"evald", "--threads=-2"};
  EXPECT_THROW(parse_cli(2, bad_threads), config_error);
  const char* ok[] = {"evald", "--listen=127.0.0.1:0", "-l", "[::1]:0", "--check-config"};
  const auto cli = parse_cli(5, ok);
  EXPECT_EQ(cli.listen.size(), 2U);
  EXPECT_TRUE(cli.check_config);
}

TEST(Config, Endpoints) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:8080").port, 8080);
  EXPECT_EQ(parse_endpoint("[::1]:0").host, "::1");
  EXPECT_EQ(parse_endpoint("localhost:1").host, "127.0.0.1");
  EXPECT_THROW(parse_endpoint("127.0.0.1:65536"), config_error);
  EXPECT_THROW(parse_endpoint("example.com:80"), config_error);
  EXPECT_THROW(parse_endpoint("[::1:80"), config_error);
}

TEST(IpLiteral, Ipv4) {
  for (const char* ok : {"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.10.1"}) {
    EXPECT_TRUE(is_ipv4_literal(ok)) << ok;
  }
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", "-1.2.3.4"}) {
    EXPECT_FALSE(is_ipv4_literal(bad)) << bad;
  }
}

TEST(IpLiteral, Ipv6) {
  for (const char* ok : {"::", "::1", "1::", "fe80::1", "2001:db8::8a2e:370:7334",
                         "2001:0db8:0000:0000:0000:ff00:0042:8329", "::ffff:192.0.2.1",
                         "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4"}) {
    EXPECT_TRUE(is_ipv6_literal(ok)) << ok;
  }
  for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3",
                          "12345::", "g::1", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::", "::1.2.3",
                          "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4"}) {
    EXPECT_FALSE(is_ipv6_literal(bad)) << bad;
  }
}

TEST(Config, CacheControlMustBeAHeaderValue) {
  EXPECT_EQ(from_json(nlohmann::json::parse(R"({"http":{"cache_control":"no-cache"}})"))
                .http.cache_control,
            "no-cache");
  EXPECT_EQ(from_json(nlohmann::json::parse(R"({"http":{"cache_control":""}})")).http.cache_control,
            "");
  try {
    from_json(nlohmann::json::parse(R"({"http":{"cache_control":"a\r\nSet-Cookie: x"}})"));
    FAIL() << "a CRLF in cache_control was accepted";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("/http/cache_control"), std::string::npos) << e.what();
  }
}
