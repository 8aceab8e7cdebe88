// API keys: `evald keys new`, Bearer tokens (RFC 6750 statuses and headers), scopes,
// jobs owned by their tenant, the keys file reloaded on SIGHUP (all or nothing, a
// removed key refused on a live keep-alive connection), protected by default.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

struct key {
  std::string token;
  std::string entry;
};

key new_key(const std::string& tenant, const std::string& scopes) {
  const auto r = run_evald({"keys", "new", "--tenant", tenant, "--scopes", scopes});
  EXPECT_EQ(r.status, 0) << r.err;
  const auto nl = r.out.find('\n');
  return {r.out.substr(0, nl), r.out.substr(nl + 1, r.out.find('\n', nl + 1) - nl - 1)};
}

std::string keys_json(const std::vector<key>& keys) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    out += (i ? "," : "") + keys[i].entry;
  }
  return out + "]}";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string request_text(const std::string& method, const std::string& target,
                         const std::string& token, const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
  if (!token.empty()) {
    req += "Authorization: Bearer " + token + "\r\n";
  }
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return req + "\r\n" + body;
}

http_response call(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& token, const std::string& body = "") {
  http_client c(port);
  c.send(request_text(method, target, token, body));
  auto r = c.read_response();
  if (!r) {
    throw std::runtime_error("no response");
  }
  return *r;
}

std::string error_code(const http_response& r) {
  return json::parse(r.body, nullptr, false).value("/error/code"_json_pointer, "");
}

}  // namespace

TEST(Auth, KeysNewPrintsATokenAndItsEntry) {
  const key k = new_key("acme", "eval,read");
  EXPECT_EQ(k.token.size(), 68u) << k.token;
  EXPECT_TRUE(k.token.starts_with("evald_")) << k.token;
  const json entry = json::parse(k.entry);
  EXPECT_EQ(entry["tenant"], "acme");
  EXPECT_EQ(entry["scopes"], json::parse(R"(["eval","read"])"));
  EXPECT_EQ(entry["id"], k.token.substr(6, 12));
  EXPECT_EQ(entry["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(k.entry.find(k.token.substr(19)), std::string::npos) << "no secret in the entry";
  EXPECT_NE(new_key("acme", "eval").token, k.token) << "every token is new";
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"keys", "new", "--tenant", "Acme!", "--scopes", "eval"},
           {"keys", "new", "--tenant", "acme", "--scopes", "evil"},
           {"keys", "new", "--tenant", "acme"},
           {"keys", "old"}}) {
    const auto r = run_evald(bad);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.err.find("usage: evald keys new"), std::string::npos) << r.err;
  }
}

TEST(Auth, BearerTokensScopesAndTheirStatuses) {
  const key acme = new_key("acme", "eval,read");
  const key ops = new_key("ops", "metrics");
  const std::string keys_file = write_temp_file(keys_json({acme, ops}), ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();

  const auto missing = call(p, "GET", "/prime?n=97", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.header("WWW-Authenticate"), R"(Bearer realm="evald")");
  EXPECT_EQ(error_code(missing), "unauthorized");

  std::string forged = acme.token;
  forged[20] = forged[20] == 'a' ? 'b' : 'a';
  for (const std::string& bad : {forged, std::string("evald_nonsense"), ops.token + "x"}) {
    const auto r = call(p, "GET", "/prime?n=97", bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(r.header("WWW-Authenticate"), R"(Bearer realm="evald", error="invalid_token")");
    EXPECT_EQ(error_code(r), "invalid_token");
  }

  EXPECT_EQ(call(p, "GET", "/prime?n=97", acme.token).status, 200);
  const auto no_scope = call(p, "GET", "/metrics", acme.token);
  EXPECT_EQ(no_scope.status, 403);
  EXPECT_EQ(no_scope.header("WWW-Authenticate"),
            R"(Bearer realm="evald", error="insufficient_scope", scope="metrics")");
  EXPECT_EQ(error_code(no_scope), "insufficient_scope");
  EXPECT_EQ(call(p, "GET", "/metrics", ops.token).status, 200);
  EXPECT_EQ(call(p, "POST", "/eval", ops.token, R"({"workload":"prime","n":"7"})").status, 403);
  EXPECT_EQ(call(p, "PUT", "/scripts/x", acme.token, "return 1").status, 403)
      << "scripts:write is a scope of its own";
  // Open routes stay open.
  EXPECT_EQ(call(p, "GET", "/healthz", "").status, 200);
  EXPECT_EQ(call(p, "GET", "/readyz", "").status, 200);
  // The access log never sees a secret (nor does stderr).
  EXPECT_EQ(server.stderr_text().find(acme.token.substr(19)), std::string::npos);
}

TEST(Auth, AJobBelongsToItsTenant) {
  const key a = new_key("tenant-a", "eval,read");
  const key b = new_key("tenant-b", "eval,read");
  const key root = new_key("ops", "admin");
  const std::string keys_file = write_temp_file(keys_json({a, b, root}), ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();
  const std::string body = R"({"workload":"factor","n":"360"})";
  const auto launched = call(p, "POST", "/eval-launch", a.token, body);
  ASSERT_EQ(launched.status, 202) << launched.body;
  const std::string id = json::parse(launched.body)["id"];
  EXPECT_EQ(call(p, "GET", "/jobs/" + id, a.token).status, 200);
  const auto other = call(p, "GET", "/jobs/" + id, b.token);
  EXPECT_EQ(other.status, 404) << "another tenant's job does not exist for it";
  EXPECT_EQ(error_code(other), "not_found");
  EXPECT_EQ(call(p, "DELETE", "/jobs/" + id, b.token).status, 404);
  EXPECT_EQ(call(p, "GET", "/jobs/" + id, a.token).status, 200) << "B's DELETE changed nothing";
  EXPECT_EQ(json::parse(call(p, "GET", "/jobs", b.token).body)["jobs"].size(), 0u);
  EXPECT_EQ(json::parse(call(p, "GET", "/jobs", a.token).body)["jobs"].size(), 1u);
  EXPECT_EQ(call(p, "GET", "/jobs/" + id, root.token).status, 200) << "admin sees every tenant";
  // Idempotency keys are per tenant: B's retry with A's key is B's own new job.
  const std::string idem = "Idempotency-Key: same-key\r\n";
  auto keyed = [&](const key& k) {
    http_client c(p);
    std::string req = request_text("POST", "/eval-launch", k.token, body);
    req.insert(req.find("\r\n") + 2, idem);
    c.send(req);
    return json::parse(c.read_response()->body).value("id", "");
  };
  const std::string a_job = keyed(a);
  EXPECT_EQ(keyed(a), a_job);
  EXPECT_NE(keyed(b), a_job);
}

// Named scripts live in their tenant's namespace; "shared" is read by every tenant and
// written with admin; a name resolves to the caller's own script, then the shared one.
TEST(Auth, ScriptsLiveInTheirTenantsNamespaceThenTheSharedOne) {
  const key a = new_key("tenant-a", "eval,read,scripts:write");
  const key b = new_key("tenant-b", "eval,read,scripts:write");
  const key root = new_key("ops", "admin");
  const std::string keys_file = write_temp_file(keys_json({a, b, root}), ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();
  const auto run = [&](const key& k, const std::string& name) {
    const auto r = call(p, "POST", "/eval", k.token,
                        R"({"workload":"script","script":")" + name + R"(","input":10})");
    return r.status == 200 ? json::parse(r.body)["result"].dump() : error_code(r);
  };

  const auto put = call(p, "PUT", "/scripts/f", a.token, "return input * 2");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.header("Location"), "/scripts/tenant-a/f");
  EXPECT_EQ(json::parse(put.body)["namespace"], "tenant-a");
  EXPECT_EQ(run(a, "f"), "20");
  EXPECT_EQ(run(b, "f"), "script_not_found") << "A's script is not B's";
  EXPECT_EQ(call(p, "GET", "/scripts/f", b.token).status, 404);
  EXPECT_EQ(call(p, "GET", "/scripts/tenant-a/f", b.token).status, 404) << "no oracle";
  EXPECT_EQ(call(p, "DELETE", "/scripts/tenant-a/f", b.token).status, 404);
  EXPECT_EQ(call(p, "PUT", "/scripts/tenant-a/f", b.token, "return 0").status, 403);
  EXPECT_EQ(call(p, "GET", "/scripts/tenant-a/f", root.token).status, 200) << "admin: every one";

  // The shared namespace: written with admin only, read by all, behind the caller's own.
  const auto refused = call(p, "PUT", "/scripts/shared/g", b.token, "return input + 1");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(error_code(refused), "insufficient_scope");
  EXPECT_NE(refused.header("WWW-Authenticate").find(R"(scope="admin")"), std::string::npos);
  ASSERT_EQ(call(p, "PUT", "/scripts/shared/g", root.token, "return input + 1").status, 201);
  EXPECT_EQ(run(a, "g"), "11");
  EXPECT_EQ(run(b, "g"), "11");
  const auto got = call(p, "GET", "/scripts/g", b.token);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.header("Content-Location"), "/scripts/shared/g");
  ASSERT_EQ(call(p, "PUT", "/scripts/g", a.token, "return input - 1").status, 201);
  EXPECT_EQ(run(a, "g"), "9") << "A's own g comes before the shared one";
  EXPECT_EQ(run(b, "g"), "11");
  EXPECT_EQ(call(p, "DELETE", "/scripts/shared/g", b.token).status, 403);
  EXPECT_EQ(call(p, "DELETE", "/scripts/g", b.token).status, 404) << "B has no own g";

  const auto names = [&](const key& k) {
    std::vector<std::string> out;
    const json listed = json::parse(call(p, "GET", "/scripts", k.token).body);
    for (const auto& e : listed["scripts"]) {
      out.push_back(e["namespace"].get<std::string>() + "/" + e["name"].get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(names(b), std::vector<std::string>{"shared/g"});
  EXPECT_EQ(names(a), (std::vector<std::string>{"shared/g", "tenant-a/f", "tenant-a/g"}));
  EXPECT_EQ(names(root).size(), 3u);
  EXPECT_EQ(call(p, "GET", "/scripts/UPPER/f", a.token).status, 400) << "not a namespace";
  EXPECT_EQ(call(p, "GET", "/scripts/a/b/c", a.token).status, 400);
}

// The storage quotas: launched jobs queued or running at once (429 with Retry-After
// until one ends), named scripts and their bytes per namespace.
TEST(Quotas, LaunchedJobsAndNamedScriptsPerTenant) {
  const key small = new_key("small", "eval,read,scripts:write");
  const key other = new_key("other", "eval,scripts:write");
  std::string keys = keys_json({small, other});
  const std::string keys_file = write_temp_file(
      keys.substr(0, keys.size() - 1) +
          R"(,"tenants":{"small":{"max_jobs":1,"max_scripts":2,"max_script_bytes":"40B"}}})",
      ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();

  // Loops until cancelled (or its 30 s deadline): queued or running while the test looks.
  const std::string endless =
      R"({"workload":"script","source":"while true do end","input":0,"timeout_ms":30000})";
  const auto first = call(p, "POST", "/eval-launch", small.token, endless);
  ASSERT_EQ(first.status, 202) << first.body;
  const auto second = call(p, "POST", "/eval-launch", small.token, endless);
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(error_code(second), "quota_exceeded");
  EXPECT_EQ(json::parse(second.body)["error"]["quota"], "jobs");
  EXPECT_EQ(json::parse(second.body)["error"]["limit"], 1);
  EXPECT_EQ(second.header("Retry-After"), "1");
  const auto theirs = call(p, "POST", "/eval-launch", other.token, endless);
  EXPECT_EQ(theirs.status, 202) << "another tenant has the default: no cap";
  const std::string id = json::parse(first.body)["id"];
  EXPECT_EQ(call(p, "DELETE", "/jobs/" + id, small.token).status, 200);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (json::parse(call(p, "GET", "/jobs/" + id, small.token).body)["status"] != "cancelled" &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the job's state
  }
  const auto next = call(p, "POST", "/eval-launch", small.token, endless);
  EXPECT_EQ(next.status, 202) << "the cap frees once the job ended: " << next.body;
  for (const auto& [k, r] : {std::pair{&small, next}, std::pair{&other, theirs}}) {
    call(p, "DELETE", "/jobs/" + json::parse(r.body).value("id", ""), k->token);
  }

  // Two scripts, 40 bytes of source.
  EXPECT_EQ(call(p, "PUT", "/scripts/a", small.token, "return 1").status, 201);
  EXPECT_EQ(call(p, "PUT", "/scripts/b", small.token, "return 2").status, 201);
  const auto third = call(p, "PUT", "/scripts/c", small.token, "return 3");
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(json::parse(third.body)["error"]["quota"], "scripts");
  const auto big = call(p, "PUT", "/scripts/a", small.token, "return " + std::string(40, '1'));
  EXPECT_EQ(big.status, 429);
  EXPECT_EQ(json::parse(big.body)["error"]["quota"], "script_bytes");
  EXPECT_EQ(call(p, "PUT", "/scripts/a", small.token, "return 11").status, 200) << "replacing";
  EXPECT_EQ(call(p, "PUT", "/scripts/c", other.token, "return 3").status, 201);
}

TEST(Auth, TheKeysFileIsReloadedAllOrNothingAndARemovedKeyFailsAtOnce) {
  const key a = new_key("tenant-a", "eval");
  const key b = new_key("tenant-b", "eval");
  const std::string keys_file = write_temp_file(keys_json({a, b}), ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();
  http_client live(p);  // one keep-alive connection for B throughout
  auto on_live = [&] {
    live.send(request_text("GET", "/prime?n=97", b.token));
    return live.read_response()->status;
  };
  ASSERT_EQ(on_live(), 200);
  auto reloads = [&](const std::string& marker, int count) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
      std::size_t seen = 0;
      const std::string text = server.stderr_text();
      for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
        ++seen;
      }
      if (static_cast<int>(seen) >= count) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a log
    }
    return false;
  };
  // A broken file: the old keys stay, the log says why.
  write_file(keys_file, R"({"keys":[{"id":"short"}]})");
  server.signal(SIGHUP);
  ASSERT_TRUE(reloads("API keys not reloaded", 1)) << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("$.keys[0].id"), std::string::npos) << server.stderr_text();
  EXPECT_EQ(on_live(), 200);
  EXPECT_EQ(call(p, "GET", "/prime?n=97", a.token).status, 200);
  // B removed: refused from the next request, on its open connection too.
  write_file(keys_file, keys_json({a}));
  server.signal(SIGHUP);
  ASSERT_TRUE(reloads("API keys reloaded", 1)) << server.stderr_text();
  EXPECT_EQ(on_live(), 401);
  EXPECT_EQ(call(p, "GET", "/prime?n=97", a.token).status, 200);
}

TEST(Auth, ProtectedByDefault) {
  // Beyond loopback, no keys: refused at start, naming both fixes.
  const auto refused = run_evald({"--listen", "0.0.0.0:0", "--threads", "1"});
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("auth.keys_file"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("auth.anonymous"), std::string::npos) << refused.err;
  // Saying what anonymous clients may do is the other way.
  evald_process::options o;
  o.args = {"--listen", "0.0.0.0:0"};
  o.env = {{"EVALD_ANONYMOUS", "eval"}};
  evald_process open_server(o);
  EXPECT_EQ(call(open_server.port(), "GET", "/prime?n=97", "").status, 200);
  EXPECT_EQ(call(open_server.port(), "GET", "/metrics", "").status, 401)
      << "anonymous clients get only the scopes named";
  // Loopback without keys: everything, as before keys existed.
  evald_process local;
  EXPECT_EQ(call(local.port(), "GET", "/metrics", "").status, 200);
}

// Quotas per tenant: a request rate (GCRA) with RateLimit fields, a compute quota
// charged from the evaluations' CPU time, 429 naming the quota, limits from the keys
// file's "tenants" over the config's default, changed by a reload. The rates are so
// low that nothing refills while the test runs: each count is exact.
TEST(Quotas, RequestRateAndComputeQuotaAnswer429WithRateLimitFields) {
  const key slow = new_key("slow", "eval,read");
  const key frugal = new_key("frugal", "eval");
  const key free = new_key("free", "eval,metrics");
  const auto tenants = [](double slow_rate) {
    return R"(,"tenants":{"slow":{"requests_per_second":)" + json(slow_rate).dump() +
           R"(,"request_burst":3},"frugal":{"compute_per_second":0.001,"compute_burst":0.001}}})";
  };
  std::string keys = keys_json({slow, frugal, free});
  const std::string keys_file =
      write_temp_file(keys.substr(0, keys.size() - 1) + tenants(0.001), ".json");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + keys_file + R"("}})";
  evald_process server(o);
  const auto p = server.port();

  for (int i = 0; i < 3; ++i) {
    const auto r = call(p, "GET", "/prime?n=97", slow.token);
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.header("RateLimit-Policy"), R"("requests";q=3;w=3000)");
    EXPECT_EQ(r.header("RateLimit").rfind("\"requests\";r=" + std::to_string(2 - i) + ";", 0), 0u)
        << r.header("RateLimit");
  }
  const auto refused = call(p, "GET", "/prime?n=97", slow.token);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(error_code(refused), "quota_exceeded");
  const json body = json::parse(refused.body);
  EXPECT_EQ(body["error"]["quota"], "requests");
  EXPECT_EQ(body["error"]["tenant"], "slow");
  EXPECT_GE(std::stoi(refused.header("Retry-After")), 900) << "one request a 1000 s";
  EXPECT_EQ(refused.header("RateLimit").substr(0, 15), R"("requests";r=0;)");
  // Another tenant is not affected, nor are open routes.
  EXPECT_EQ(call(p, "GET", "/prime?n=97", free.token).status, 200);
  EXPECT_EQ(call(p, "GET", "/healthz", "").status, 200);

  // Compute: 1 ms of CPU a second; a script that takes far more is admitted (nothing
  // owed yet) and puts the tenant in debt for its CPU time ÷ 0.001.
  const std::string busy =
      R"({"workload":"script","source":"local x = 0 for i = 1, 3000000 do x = x + i end return x","input":0})";
  ASSERT_EQ(call(p, "POST", "/eval", frugal.token, busy).status, 200);
  const auto owed = call(p, "POST", "/eval", frugal.token, busy);
  EXPECT_EQ(owed.status, 429) << owed.body;
  EXPECT_EQ(json::parse(owed.body)["error"]["quota"], "compute");
  EXPECT_GE(std::stoi(owed.header("Retry-After")), 1);
  EXPECT_EQ(owed.header("RateLimit-Policy"), R"("compute";q=1;w=1)") << "q: CPU ms per second";

  // The counts per tenant in /metrics.
  const auto m = call(p, "GET", "/metrics", free.token);
  EXPECT_NE(m.body.find(R"(evald_tenant_refused_total{tenant="slow",quota="requests"} 1)"),
            std::string::npos)
      << m.body.substr(0, 400);
  EXPECT_NE(m.body.find(R"(evald_tenant_refused_total{tenant="frugal",quota="compute"} 1)"),
            std::string::npos);
  EXPECT_NE(m.body.find(R"(evald_tenant_requests_total{tenant="slow"} 3)"), std::string::npos);

  // A reload that lifts the rate applies to the next request.
  write_file(keys_file, keys.substr(0, keys.size() - 1) + tenants(1000));
  server.signal(SIGHUP);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.stderr_text().find("API keys reloaded") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a log
  }
  ASSERT_NE(server.stderr_text().find("API keys reloaded"), std::string::npos);
  EXPECT_EQ(call(p, "GET", "/prime?n=97", slow.token).status, 200);
}

TEST(Quotas, ABadTenantLimitIsAClearStartupError) {
  const key k = new_key("acme", "eval");
  std::string keys = keys_json({k});
  const std::string keys_file = write_temp_file(
      keys.substr(0, keys.size() - 1) + R"(,"tenants":{"acme":{"weight":-1}}})", ".json");
  const auto r =
      run_evald({"--listen", "127.0.0.1:0", "--config",
                 write_temp_file(R"({"auth":{"keys_file":")" + keys_file + R"("}})", ".json")});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("weight"), std::string::npos) << r.err;
}

// A request to a route that needs a key is judged on its headers: without a key (or the
// scope) the 401/403 comes before any of the body is read (no 100 Continue either), and
// the connection closes. The body timeout is raised so that a server waiting for the
// body could not answer at all within the client's timeout.
TEST(Auth, RefusedBeforeTheBodyIsRead) {
  const key acme = new_key("acme", "eval");
  const key ops = new_key("ops", "metrics");
  evald_process::options o;
  o.config_json = R"({"auth":{"keys_file":")" + write_temp_file(keys_json({acme, ops}), ".json") +
                  R"("},"timeouts":{"body":"60s"}})";
  evald_process server(o);
  const auto p = server.port();
  const auto headers_only = [&](const std::string& token, const std::string& extra) {
    std::string head =
        "POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000\r\n" +
        extra;
    if (!token.empty()) {
      head += "Authorization: Bearer " + token + "\r\n";
    }
    return head + "\r\n";
  };
  for (const auto& [token, status] :
       std::vector<std::pair<std::string, int>>{{"", 401}, {ops.token, 403}}) {
    http_client c(p, std::chrono::seconds(5));
    c.send(headers_only(token, "Expect: 100-continue\r\n"));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << "no answer before the body: the server waited for it";
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_FALSE(r->header("WWW-Authenticate").empty());
    EXPECT_TRUE(c.read_until_closed()) << "the unread body is not taken: the connection closes";
  }
  // With the key, the server reads the body (a 100 Continue first) and answers.
  http_client c(p, std::chrono::seconds(10));
  const std::string body = R"({"workload":"prime","n":"97"})";
  c.send("POST /eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nAuthorization: Bearer " + acme.token + "\r\n\r\n" +
         body);
  const auto ok = c.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}
