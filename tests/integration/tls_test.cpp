// TLS listeners with real clients (curl, openssl s_client, Python's ssl): ECDSA and RSA
// certificates side by side, TLS 1.2 and 1.3 only, ALPN, a plain HTTP request on the
// TLS port, handshakes that stall, resumption across workers and reloads, certificates
// swapped under load, mTLS, and the failures counted in /metrics. Certificates are
// made by the test with openssl.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;

namespace {

const std::string client_py = EVALD_SOURCE_DIR "/tests/integration/tls_client.py";

bool under_wine() {
  const char* wrapper = std::getenv("EVALD_TEST_WRAPPER");
  return wrapper != nullptr && *wrapper != '\0';
}

// A directory of test certificates: ECDSA P-256 and RSA-2048 self-signed server
// certificates for 127.0.0.1/localhost (CN evald-ec, evald-rsa), a second ECDSA one
// (CN evald-next) for the reload, a CA and a client certificate it signed.
struct cert_dir {
  std::string path;
  cert_dir() {
    char tmpl[] = "/tmp/evald-tls.XXXXXX";
    path = ::mkdtemp(tmpl);
    const auto openssl = [](const std::vector<std::string>& args) {
      const auto r = run_program("/usr/bin/openssl", args);
      if (r.status != 0) {
        throw std::runtime_error("openssl failed: " + r.err);
      }
    };
    const std::string san = "subjectAltName=DNS:localhost,IP:127.0.0.1";
    for (const auto& [name, alg] : std::vector<std::pair<std::string, std::string>>{
             {"ec", "ec"}, {"rsa", "rsa:2048"}, {"next", "ec"}}) {
      std::vector<std::string> args = {"req",
                                       "-x509",
                                       "-newkey",
                                       alg,
                                       "-nodes",
                                       "-days",
                                       "2",
                                       "-keyout",
                                       file(name + ".key"),
                                       "-out",
                                       file(name + ".pem"),
                                       "-subj",
                                       "/CN=evald-" + name,
                                       "-addext",
                                       san};
      if (alg == "ec") {
        args.insert(args.begin() + 4, {"-pkeyopt", "ec_paramgen_curve:P-256"});
      }
      openssl(args);
    }
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "2", "-keyout", file("ca.key"), "-out", file("ca.pem"), "-subj",
             "/CN=evald-test-ca"});
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             file("client.key"), "-out", file("client.csr"), "-subj", "/CN=tenant-a"});
    openssl({"x509", "-req", "-in", file("client.csr"), "-CA", file("ca.pem"), "-CAkey",
             file("ca.key"), "-CAcreateserial", "-days", "2", "-out", file("client.pem")});
    std::ofstream(file("trust.pem"))
        << read(file("ec.pem")) << read(file("rsa.pem")) << read(file("next.pem"));
  }
  ~cert_dir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return path + "/" + name; }
  static std::string read(const std::string& f) {
    std::string out(std::filesystem::file_size(f), '\0');
    std::ifstream(f, std::ios::binary).read(out.data(), static_cast<std::streamsize>(out.size()));
    return out;
  }
};

// evald with a TLS listener first (so its port is read) and a plain one.
evald_process::options tls_options(const cert_dir& certs, const std::string& tls_extra = "",
                                   const std::string& more = "") {
  evald_process::options o;
  o.listen_from_config = true;
  o.config_json = R"({"listen":[{"address":"127.0.0.1:0","tls":{"certificates":[)"
                  R"({"cert":")" +
                  certs.file("ec.pem") + R"(","key":")" + certs.file("ec.key") + R"("},{"cert":")" +
                  certs.file("rsa.pem") + R"(","key":")" + certs.file("rsa.key") + R"("}])" +
                  tls_extra + R"(}},"127.0.0.1:0"])" + more + "}";
  return o;
}

run_result python_client(const std::vector<std::string>& args) {
  std::vector<std::string> all = {client_py};
  all.insert(all.end(), args.begin(), args.end());
  return run_program("/usr/bin/python3", all, std::chrono::seconds(90));
}

std::uint64_t tls_count(std::uint16_t plain_port, const std::string& result,
                        const std::string& token = "") {
  http_client c(plain_port);
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n" +
         (token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n") + "\r\n");
  const auto r = c.read_response();
  const std::string key = "evald_tls_handshakes_total{result=\"" + result + "\"} ";
  const auto at = r ? r->body.find(key) : std::string::npos;
  return at == std::string::npos ? 0 : std::stoull(r->body.substr(at + key.size()));
}

}  // namespace

TEST(Tls, ServesEcdsaAndRsaOverTls12And13WithAlpn) {
  if (under_wine()) {
    GTEST_SKIP() << "the Windows build has no TLS (Tls.RefusedWhereTheBuildCannotServeIt)";
  }
  const cert_dir certs;
  evald_process server(tls_options(certs));
  const std::string port = std::to_string(server.tls_port());
  ASSERT_NE(server.tls_port(), 0) << server.stdout_text();

  // curl, TLS 1.3 with the ECDSA certificate, and TLS 1.2 with an RSA-only suite.
  auto r = run_program("/usr/bin/curl",
                       {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        certs.file("trust.pem"), "https://127.0.0.1:" + port + "/healthz"});
  EXPECT_EQ(r.out, "200") << r.err;
  r = run_program("/usr/bin/curl",
                  {"-s", "-o", "/dev/null", "-w", "%{http_code}", "--tls-max", "1.2", "--ciphers",
                   "ECDHE-RSA-AES128-GCM-SHA256", "--cacert", certs.file("rsa.pem"),
                   "https://127.0.0.1:" + port + "/healthz"});
  EXPECT_EQ(r.out, "200") << "the RSA certificate for a client that takes only RSA: " << r.err;

  // Two evaluations (async handlers, with the disconnect watch reading the TLS stream
  // meanwhile) on one kept-alive connection.
  const std::string body = R"({"workload":"factor","n":"600851475143"})";
  r = run_program(
      "/usr/bin/curl",
      {"-s", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects} ",
       "--cacert", certs.file("trust.pem"), "-H", "Content-Type: application/json", "-d", body,
       "https://127.0.0.1:" + port + "/eval", "https://127.0.0.1:" + port + "/eval"});
  EXPECT_EQ(r.out, "200:1 200:0 ") << r.err;

  // Python's ssl: the version, ALPN http/1.1, and no ALPN for an h2-only client.
  r = python_client({"get", port, certs.file("trust.pem"), "h2,http/1.1"});
  EXPECT_NE(r.out.find("status=200 version=TLSv1.3 alpn=http/1.1"), std::string::npos)
      << r.out << r.err;
  r = python_client({"get", port, certs.file("trust.pem"), "h2"});
  EXPECT_NE(r.out.find("status=200 version=TLSv1.3 alpn=-"), std::string::npos)
      << "an h2-only client falls back to HTTP/1.1: " << r.out << r.err;

  // Older than TLS 1.2: refused by the server (counted as a failed handshake).
  const auto failed_before = tls_count(server.port(), "failed");
  r = python_client({"old", port});
  EXPECT_EQ(r.out.rfind("refused", 0), 0u) << r.out << r.err;
  EXPECT_GT(tls_count(server.port(), "failed"), failed_before);

  // openssl s_client: SNI is accepted but not required.
  r = run_program("/bin/sh", {"-c",
                              "printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
                              "close\\r\\n\\r\\n' | openssl s_client -quiet -noservername "
                              "-connect 127.0.0.1:" +
                                  port + " 2>/dev/null"});
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
}

TEST(Tls, APlainRequestGets400AndGarbageOrSilenceIsClosed) {
  if (under_wine()) {
    GTEST_SKIP() << "the Windows build has no TLS";
  }
  const cert_dir certs;
  evald_process server(tls_options(certs, "", R"(,"timeouts":{"handshake":"300ms"})"));
  {
    http_client c(server.tls_port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("plain_http_to_tls_port"), std::string::npos) << r->body;
    EXPECT_TRUE(c.read_until_closed()) << "then the connection closes";
  }
  {
    http_client c(server.tls_port());
    c.send(std::string("\x01\x02\x03 not a TLS record\r\n\r\n"));
    EXPECT_TRUE(c.read_until_closed());
    EXPECT_EQ(c.read_raw(1), "") << "nothing is sent back to garbage";
  }
  // Silence, then half a ClientHello: both are closed at timeouts.handshake.
  {
    http_client quiet(server.tls_port());
    http_client partial(server.tls_port());
    partial.send(std::string("\x16\x03\x01\x00\x80\x01\x00", 7));
    EXPECT_TRUE(quiet.read_until_closed());
    EXPECT_TRUE(partial.read_until_closed());
  }
  // A client that never answers our close_notify: the wait for it is bounded (the linger).
  const auto held =
      python_client({"hold", std::to_string(server.tls_port()), certs.file("trust.pem")});
  EXPECT_EQ(held.out.rfind("400 closed after", 0), 0u) << held.out << held.err;
  EXPECT_EQ(tls_count(server.port(), "plain_http"), 1u);
  EXPECT_EQ(tls_count(server.port(), "not_tls"), 1u);
  EXPECT_EQ(tls_count(server.port(), "timeout"), 2u);
  EXPECT_EQ(tls_count(server.port(), "full"), 1u);  // the client that held on
}

TEST(Tls, SessionsResumeAcrossWorkersAndReloads) {
  if (under_wine()) {
    GTEST_SKIP() << "the Windows build has no TLS";
  }
  const cert_dir certs;
  evald_process server(tls_options(certs));
  const std::string port = std::to_string(server.tls_port());
  const std::string session = certs.file("session.pem");
  const auto s_client = [&](const std::string& version, const std::string& session_arg) {
    // A request read to the server's close (-ign_eof), so a TLS 1.3 ticket (sent after
    // the handshake) is read before the end.
    return run_program("/bin/sh", {"-c",
                                   "printf 'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: "
                                   "close\\r\\n\\r\\n' | openssl s_client -ign_eof " +
                                       version + " -connect 127.0.0.1:" + port + " " + session_arg +
                                       " 2>/dev/null"})
        .out;
  };
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    const std::string first = s_client(version, "-sess_out " + session);
    EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first.substr(0, 600);
    // Two workers: successive connections go to both; every one resumes.
    for (int i = 0; i < 4; ++i) {
      const std::string again = s_client(version, "-sess_in " + session);
      EXPECT_NE(again.find("Reused, TLSv1."), std::string::npos) << version << " " << i;
    }
    server.signal(SIGHUP);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const auto reloads = [&] {
      std::size_t n = 0;
      const std::string err = server.stderr_text();
      for (auto at = err.find("TLS certificates reloaded"); at != std::string::npos;
           at = err.find("TLS certificates reloaded", at + 1)) {
        ++n;
      }
      return n;
    };
    const std::size_t want = version == "-tls1_2" ? 1 : 2;
    while (reloads() < want && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log
    }
    ASSERT_EQ(reloads(), want);
    const std::string after = s_client(version, "-sess_in " + session);
    EXPECT_NE(after.find("Reused, TLSv1."), std::string::npos)
        << version << ": a ticket outlives a certificate reload";
  }
  EXPECT_GE(tls_count(server.port(), "resumed"), 10u);
}

TEST(Tls, ACertificateSwappedUnderLoadFailsNoConnection) {
  if (under_wine()) {
    GTEST_SKIP() << "the Windows build has no TLS";
  }
  const cert_dir certs;
  // The served files are copies, replaced the way an operator (or certbot) does.
  std::filesystem::copy_file(certs.file("ec.pem"), certs.file("live.pem"));
  std::filesystem::copy_file(certs.file("ec.key"), certs.file("live.key"));
  evald_process::options o;
  o.listen_from_config = true;
  o.config_json = R"({"listen":[{"address":"127.0.0.1:0","tls":{"cert":")" +
                  certs.file("live.pem") + R"(","key":")" + certs.file("live.key") +
                  R"("}},"127.0.0.1:0"]})";
  evald_process server(o);
  const std::string port = std::to_string(server.tls_port());
  const auto served_cn = [&] {
    const auto r = python_client({"get", port, certs.file("trust.pem")});
    const auto at = r.out.find("cn=");
    return at == std::string::npos ? r.out + r.err
                                   : r.out.substr(at + 3, r.out.find('\n') - at - 3);
  };
  EXPECT_EQ(served_cn(), "evald-ec");

  const std::string stop = certs.file("stop");
  run_result load{};
  std::thread client([&] { load = python_client({"load", port, certs.file("trust.pem"), stop}); });
  const auto wait_handshakes = [&](std::uint64_t n) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (tls_count(server.port(), "full") < n && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the counter
    }
  };
  wait_handshakes(20);  // the load is running
  std::filesystem::copy_file(certs.file("next.pem"), certs.file("live.pem.new"));
  std::filesystem::copy_file(certs.file("next.key"), certs.file("live.key.new"));
  std::filesystem::rename(certs.file("live.key.new"), certs.file("live.key"));
  std::filesystem::rename(certs.file("live.pem.new"), certs.file("live.pem"));
  server.signal(SIGHUP);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.stderr_text().find("TLS certificates reloaded") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log
  }
  EXPECT_EQ(served_cn(), "evald-next") << "new handshakes present the new certificate";
  wait_handshakes(tls_count(server.port(), "full") + 20);  // and the load goes on
  std::ofstream(stop) << "stop";
  client.join();
  EXPECT_NE(load.out.find(" failed=0 "), std::string::npos) << load.out << load.err;
  EXPECT_EQ(load.out.find("ok=0 "), std::string::npos) << load.out;

  // A broken file: the current certificate stays, and the log says why.
  std::ofstream(certs.file("live.pem"), std::ios::trunc) << "not a certificate\n";
  server.signal(SIGHUP);
  const auto give_up2 = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.stderr_text().find("TLS certificates not reloaded") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log
  }
  EXPECT_NE(server.stderr_text().find("TLS certificates not reloaded, the previous ones stay in "
                                      "force: TLS: certificate " +
                                      certs.file("live.pem")),
            std::string::npos)
      << server.stderr_text();
  EXPECT_EQ(served_cn(), "evald-next");
}

TEST(Tls, AClientCaRequiresAClientCertificateWhichMayNameTheTenant) {
  if (under_wine()) {
    GTEST_SKIP() << "the Windows build has no TLS";
  }
  const cert_dir certs;
  // A keys file (one admin key), so a client needs a credential: the certificate is one.
  const auto made = run_evald({"keys", "new", "--tenant", "ops", "--scopes", "admin"});
  const std::string token = made.out.substr(0, made.out.find('\n'));
  const std::string entry =
      made.out.substr(made.out.find('\n') + 1,
                      made.out.find('\n', made.out.find('\n') + 1) - made.out.find('\n') - 1);
  const std::string keys = write_temp_file(R"({"keys":[)" + entry + "]}", ".json");
  evald_process server(tls_options(
      certs, R"(,"client_ca":")" + certs.file("ca.pem") + R"(","client_scopes":["eval","read"])",
      R"(,"auth":{"keys_file":")" + keys + R"("})"));
  const std::string port = std::to_string(server.tls_port());
  const auto mtls = [&](const std::string& cert, const std::string& key, const std::string& path) {
    const auto r = python_client({"mtls", port, certs.file("trust.pem"), cert, key, path});
    return r.out.substr(0, r.out.find(' ')).substr(0, r.out.find('\n'));
  };
  EXPECT_EQ(mtls(certs.file("client.pem"), certs.file("client.key"), "/healthz"), "status=200");
  EXPECT_EQ(mtls(certs.file("client.pem"), certs.file("client.key"), "/jobs"), "status=200")
      << "the certificate's CN (tenant-a) with the scope read";
  EXPECT_EQ(mtls(certs.file("client.pem"), certs.file("client.key"), "/metrics"), "status=403")
      << "a scope the certificate's tenant does not have";
  EXPECT_EQ(mtls("-", "", "/healthz").rfind("refused", 0), 0u) << "no client certificate";
  // A certificate from another issuer (the server's own, self-signed) is refused too.
  EXPECT_EQ(mtls(certs.file("rsa.pem"), certs.file("rsa.key"), "/healthz").rfind("refused", 0), 0u);
  EXPECT_GE(tls_count(server.port(), "failed", token), 2u);
  http_client c(server.port());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n");
  const auto m = c.read_response();
  ASSERT_TRUE(m.has_value());
  // Its one admitted request (the 403 is counted apart), as the tenant the certificate names.
  EXPECT_NE(m->body.find(R"(evald_tenant_requests_total{tenant="tenant-a"} 1)"), std::string::npos)
      << m->body.substr(m->body.find("evald_tenant_requests_total"), 300);
  EXPECT_NE(m->body.find(R"(evald_tenant_forbidden_total{tenant="tenant-a"} 1)"),
            std::string::npos);
}

TEST(Tls, RefusedAtStartWithTheReason) {
  const std::string config = write_temp_file(
      R"({"listen":[{"address":"127.0.0.1:0","tls":{"cert":"/nonexistent/cert.pem","key":"/nonexistent/key.pem"}}]})",
      ".json");
  const auto r = run_evald({"--config", config});
  EXPECT_NE(r.status, 0);
  if (under_wine()) {
    EXPECT_NE(r.err.find("TLS listeners need OpenSSL"), std::string::npos) << r.err;
  } else {
    EXPECT_NE(r.err.find("TLS: certificate /nonexistent/cert.pem"), std::string::npos) << r.err;
  }
  const std::string bad =
      write_temp_file(R"({"listen":[{"address":"127.0.0.1:0","tls":{"cert":"a.pem"}}]})", ".json");
  const auto b = run_evald({"--check-config", "--config", bad});
  EXPECT_EQ(b.status, 2);
  EXPECT_NE(b.err.find("/listen/0/tls: needs \"key\""), std::string::npos) << b.err;
}
