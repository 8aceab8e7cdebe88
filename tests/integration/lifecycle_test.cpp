// Process-level behaviour: threads, io_uring, signals and drain, connection cap,
// command line and configuration errors.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/probes.hpp"

using namespace evald::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {
std::string backend() {
  const auto r = run_evald({"--version"});
  return r.out.find("io_uring") != std::string::npos ? "io_uring" : "epoll";
}
// ThreadSanitizer's runtime runs one background thread of its own in the server.
#if defined(__SANITIZE_THREAD__)
constexpr std::size_t runtime_threads = 1;
#else
constexpr std::size_t runtime_threads = 0;
#endif
constexpr const char* slow_prime = "/prime?n=100109100129100151&method=trial";  // ~0.3–1 s
}  // namespace

TEST(Lifecycle, ThreadCountIsWorkersPlusTheLoggerThread) {
  for (std::uint32_t w : {1U, 2U, 3U}) {
    evald_process::options opts;
    opts.threads = w;
    evald_process server(opts);
    ASSERT_EQ(get(server.port(), "/healthz").status, 200);
    // W workers (the main thread is worker 0) + 1 asynchronous logger thread.
    EXPECT_EQ(server.thread_count(), w + 1 + runtime_threads) << "workers=" << w;
  }
}

TEST(Lifecycle, ThreadCountStaysPutWhileComputing) {
  evald_process server;
  http_client a(server.port());
  http_client b(server.port());
  a.send(get_request(slow_prime));
  b.send(get_request(slow_prime));
  ASSERT_EQ(get(server.port(), "/healthz").status, 200);
  EXPECT_EQ(server.thread_count(), 3U + runtime_threads);
  ASSERT_TRUE(a.read_response());
  ASSERT_TRUE(b.read_response());
}

TEST(Lifecycle, TheBackendIsReallyInUse) {
  evald_process server;
  ASSERT_EQ(get(server.port(), "/healthz").status, 200);
  std::size_t rings = 0;
  std::size_t epolls = 0;
  for (const auto& t : server.fd_targets()) {
    rings += t == "anon_inode:[io_uring]" ? 1 : 0;
    epolls += t == "anon_inode:[eventpoll]" ? 1 : 0;
  }
  if (backend() == "io_uring") {
    EXPECT_EQ(rings, 2U) << "one io_uring per worker";
    EXPECT_EQ(epolls, 0U);
  } else {
    EXPECT_EQ(rings, 0U);
    EXPECT_GE(epolls, 2U);
  }
  EXPECT_NE(server.stderr_text().find("backend=" + backend()), std::string::npos);
  EXPECT_NE(server.stderr_text().find("workers=2"), std::string::npos);
}

TEST(Lifecycle, DrainFinishesInFlightRequestsAndExitsZero) {
  evald_process server;
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<http_client>(server.port()));
    clients.back()->send(get_request("/healthz"));
    ASSERT_TRUE(clients.back()->read_response());  // accepted and served once
    clients.back()->send(get_request(slow_prime));
  }
  http_client idle(server.port());
  idle.send(get_request("/healthz"));
  ASSERT_TRUE(idle.read_response());

  server.signal(graceful_signal());
  for (auto& c : clients) {
    const auto res = c->read_response();
    ASSERT_TRUE(res) << "an in-flight request was dropped by the drain";
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body)["prime"], true);
    EXPECT_EQ(res->header("Connection"), "close");
  }
  EXPECT_FALSE(idle.read_response());  // closed once the drain's idle grace is over
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_NE(server.stderr_text().find("draining"), std::string::npos);
}

TEST(Lifecycle, DrainUnderLoadFailsNoRequest) {
  evald_process server;
  std::atomic<bool> signalled{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 8; ++t) {
    load.emplace_back([&, t] {
      try {
        http_client c(server.port());
        for (int i = 0;; ++i) {
          const bool slow = (i + t) % 5 == 0;
          c.send(get_request(slow ? "/prime?n=1000000007&method=trial" : "/healthz"));
          std::optional<http_response> res;
          try {
            res = c.read_response();
          } catch (const std::exception&) {
            ++failed;  // a partial response: the server broke an in-flight request
            return;
          }
          if (!res) {
            // Closed before any byte of a response: legal only once the drain began.
            if (!signalled) {
              ++failed;
            }
            return;
          }
          if (res->status != 200) {
            ++failed;
            return;
          }
          ++ok;
          if (res->header("Connection") == "close") {
            return;
          }
        }
      } catch (const std::exception&) {
        if (!signalled) {
          ++failed;
        }
      }
    });
  }
  while (ok < 2000) {
    std::this_thread::yield();
  }
  signalled = true;
  server.signal(SIGTERM);
  for (auto& th : load) {
    th.join();
  }
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_EQ(failed, 0);
  EXPECT_GE(ok, 2000);
}

namespace {

void wait_for_log(const evald_process& server, const std::string& text) {
  const auto deadline = steady::now() + 10s;
  while (server.stderr_text().find(text) == std::string::npos && steady::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_NE(server.stderr_text().find(text), std::string::npos) << "no log line: " << text;
}

evald_process::options with_drain_idle(const char* grace) {
  evald_process::options o;
  o.config_json = std::string(R"({"timeouts": {"drain_idle": ")") + grace + R"("}})";
  return o;
}

}  // namespace

// A keep-alive client cannot know the server is stopping: a request it sends on an
// idle connection during the grace is answered (with Connection: close), not reset.
TEST(Lifecycle, DrainAnswersARequestSentOnAnIdleConnectionDuringTheGrace) {
  evald_process server(with_drain_idle("20s"));
  http_client idle(server.port());
  idle.send(get_request("/healthz"));
  ASSERT_TRUE(idle.read_response());
  server.signal(graceful_signal());
  wait_for_log(server, "draining");
  idle.send(get_request("/prime?n=97"));
  const auto res = idle.read_response();
  ASSERT_TRUE(res) << "a request sent during the drain's grace was dropped";
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("Connection"), "close");
  EXPECT_FALSE(idle.read_response());
  EXPECT_EQ(server.wait_exit(10s), 0);  // well before the 20 s grace
}

TEST(Lifecycle, DrainClosesIdleConnectionsWhenTheGraceEnds) {
  evald_process server(with_drain_idle("300ms"));
  http_client idle(server.port());
  idle.send(get_request("/healthz"));
  ASSERT_TRUE(idle.read_response());
  const auto signalled = steady::now();
  server.signal(graceful_signal());
  EXPECT_FALSE(idle.read_response());  // EOF, no response: nothing was asked
  const auto closed_after = steady::now() - signalled;
  EXPECT_GE(closed_after, 250ms);
  EXPECT_LT(closed_after, 5s);
  EXPECT_EQ(server.wait_exit(10s), 0);
}

TEST(Lifecycle, DrainWithoutGraceClosesIdleConnectionsAtOnce) {
  evald_process server(with_drain_idle("0s"));
  http_client idle(server.port());
  idle.send(get_request("/healthz"));
  ASSERT_TRUE(idle.read_response());
  server.signal(graceful_signal());
  EXPECT_FALSE(idle.read_response());
  EXPECT_EQ(server.wait_exit(10s), 0);
}

namespace {

// The figure after `label ` on wrk's "Socket errors:" line (0 when it has none).
long wrk_count(const std::string& out, const std::string& label) {
  const auto line = out.find("Socket errors:");
  if (line == std::string::npos) {
    return 0;
  }
  const auto at = out.find(label + " ", line);
  return at == std::string::npos ? -1 : std::stol(out.substr(at + label.size() + 1));
}

long requests_answered(std::uint16_t port) {
  return static_cast<long>(metric_total(scrape_metrics(port), "evald_requests_total"));
}

}  // namespace

// wrk at full speed on /healthz and on a CPU-bound /prime, then SIGTERM: no request
// wrk had sent fails (read errors = requests whose connection ended without a
// response; timeouts = none answered in 2 s), and evald exits 0. wrk's write
// errors are its reconnects after the listener closed, so they are not counted.
TEST(Lifecycle, DrainUnderWrkAtFullSpeedFailsNoInFlightRequest) {
  if (::access("/usr/bin/wrk", X_OK) != 0) {
    GTEST_SKIP() << "wrk is not installed (make test installs it)";
  }
  evald_process server;
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  run_result healthz{};
  run_result prime{};
  std::thread healthz_load([&] {
    healthz = run_program("/usr/bin/wrk", {"-t1", "-c64", "-d8s", base + "/healthz"});
  });
  std::thread prime_load([&] {
    prime = run_program("/usr/bin/wrk",
                        {"-t1", "-c8", "-d8s", base + "/prime?n=1000000007&method=trial"});
  });
  // At full speed before the signal: thousands answered, not just connected.
  const auto deadline = steady::now() + 6s;
  long answered = 0;
  while ((answered = requests_answered(server.port())) < 5000 && steady::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  server.signal(SIGTERM);
  const auto status = server.wait_exit(15s);
  healthz_load.join();
  prime_load.join();
  EXPECT_GE(answered, 5000) << "wrk never reached full speed";
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  for (const auto* r : {&healthz, &prime}) {
    SCOPED_TRACE(r->out);
    EXPECT_EQ(r->status, 0);
    EXPECT_NE(r->out.find("requests in"), std::string::npos);
    EXPECT_EQ(wrk_count(r->out, "read"), 0);
    EXPECT_EQ(wrk_count(r->out, "timeout"), 0);
    EXPECT_EQ(r->out.find("Non-2xx"), std::string::npos);
  }
}

TEST(Lifecycle, SecondSignalExitsAtOnce) {
  evald_process server;
  http_client c(server.port());
  c.send(get_request("/prime?n=18446744073709551557&method=trial"));  // seconds of work
  ASSERT_EQ(get(server.port(), "/healthz").status, 200);
  server.signal(SIGTERM);
  wait_for_log(server, "draining");  // the drain has begun: signal again
  const auto start = steady::now();
  server.signal(SIGTERM);
  const auto status = server.wait_exit(5s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 1);
  EXPECT_LT(steady::now() - start, 2s);
}

TEST(Lifecycle, ShutdownTimeoutBoundsTheDrain) {
  evald_process::options opts;
  opts.config_json = R"({"timeouts": {"shutdown": "500ms"}})";
  evald_process server(opts);
  http_client c(server.port());
  c.send(get_request("/prime?n=18446744073709551557&method=trial"));
  ASSERT_EQ(get(server.port(), "/healthz").status, 200);
  const auto start = steady::now();
  server.signal(SIGINT);
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_LT(steady::now() - start, 5s);
  EXPECT_EQ(server.stderr_text().find("unexpected"), std::string::npos) << server.stderr_text();
}

TEST(Lifecycle, ConnectionCapAnswers503WithRetryAfter) {
  evald_process::options opts;
  opts.config_json = R"({"limits": {"max_connections": 2}})";
  evald_process server(opts);
  auto a = std::make_unique<http_client>(server.port());
  http_client b(server.port());
  for (http_client* c : {a.get(), &b}) {
    c->send(get_request("/healthz"));
    ASSERT_TRUE(c->read_response());
  }
  {
    http_client over(server.port());
    const auto res = over.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->header("Retry-After"), "1");
    EXPECT_EQ(json::parse(res->body)["error"]["code"], "too_many_connections");
    EXPECT_TRUE(over.read_until_closed());
  }
  a.reset();  // frees a slot once the server sees the close
  const auto deadline = steady::now() + 5s;
  int status = 0;
  while (steady::now() < deadline) {
    status = get(server.port(), "/healthz").status;
    if (status == 200) {
      break;
    }
  }
  EXPECT_EQ(status, 200);
}

TEST(Lifecycle, CommandLine) {
  auto r = run_evald({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("evald 0.1.0"), std::string::npos);
  r = run_evald({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--check-config"), std::string::npos);
  r = run_evald({"--bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--bogus: unknown option"), std::string::npos);
  r = run_evald({"--check-config", "--config", EVALD_SOURCE_DIR "/config/evald.json"});
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string bad = write_temp_file(R"({"limits": {"max_conections": 5}})", ".json");
  r = run_evald({"--check-config", "--config", bad});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("/limits/max_conections: unknown key"), std::string::npos) << r.err;
  r = run_evald({"--check-config"}, {{"EVALD_THREADS", "lots"}});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("EVALD_THREADS"), std::string::npos);
  r = run_evald({"--config", "/nonexistent/evald.json"});
  EXPECT_EQ(r.status, 2);
}

TEST(Lifecycle, AddressInUseIsAClearStartupError) {
  evald_process server;
  const auto r = run_evald({"--listen", "127.0.0.1:" + std::to_string(server.port())});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:"), std::string::npos) << r.err;
}

TEST(Lifecycle, BlockedIoUringIsAClearStartupError) {
  if (backend() != "io_uring") {
    GTEST_SKIP() << "epoll build";
  }
  const auto r = run_program(NO_IO_URING_EXEC, {EVALD_BINARY, "--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("cannot start the io_uring backend"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("seccomp"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("EVALD_IO_BACKEND=epoll"), std::string::npos) << r.err;
}

TEST(Lifecycle, ListensOnIpv6Too) {
  evald_process::options opts;
  opts.args = {"--listen", "[::1]:0"};
  evald_process server(opts);
  const std::string& out = server.stdout_text();
  const auto at = out.find("listening on http://[::1]:");
  ASSERT_NE(at, std::string::npos) << out;
  const int port = std::stoi(out.substr(at + 26));
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<std::uint16_t>(port));
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[1024];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << got;
  EXPECT_NE(got.find(R"({"status":"ok"})"), std::string::npos);
}
