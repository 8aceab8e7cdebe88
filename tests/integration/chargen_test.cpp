// /chargen over HTTP (exact length, chunked stream, cap) and the raw TCP listener.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"

using namespace evald::test;
using json = nlohmann::json;

namespace {

// RFC 864's pattern built here, independently of the server's kernel.
std::string reference(std::size_t bytes) {
  std::string ring;
  for (char c = ' '; c <= '~'; ++c) {
    ring.push_back(c);
  }
  const std::string doubled = ring + ring;
  std::string out;
  for (std::size_t k = 0; out.size() < bytes; ++k) {
    out += doubled.substr((k + 1) % 95, 72) + "\r\n";
  }
  out.resize(bytes);
  return out;
}

}  // namespace

TEST(Chargen, ExactByteCount) {
  evald_process server;
  for (std::size_t n : {0UL, 1UL, 74UL, 7030UL, 100'000UL, 1'000'003UL}) {
    const auto res = get(server.port(), "/chargen?bytes=" + std::to_string(n));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.header("Content-Length"), std::to_string(n));
    EXPECT_EQ(res.header("Content-Type"), "text/plain; charset=us-ascii");
    ASSERT_EQ(res.body.size(), n);
    EXPECT_TRUE(res.body == reference(n)) << "pattern mismatch for " << n << " bytes";
  }
}

TEST(Chargen, UnboundedStreamReadForTenMegabytesThenClosed) {
  evald_process server;
  {
    http_client c(server.port());
    c.send(get_request("/chargen"));
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      head += c.read_raw(1);
      ASSERT_LT(head.size(), 4096U);
    }
    EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
    // De-chunk 10 MB of the stream and compare it with the pattern.
    std::string data;
    while (data.size() < 10'000'000) {
      std::string size_line;
      while (size_line.size() < 2 || size_line.substr(size_line.size() - 2) != "\r\n") {
        size_line += c.read_raw(1);
        ASSERT_LT(size_line.size(), 32U);
      }
      const std::size_t size = std::stoul(size_line, nullptr, 16);
      ASSERT_GT(size, 0U);
      data += c.read_raw(size);
      ASSERT_EQ(c.read_raw(2), "\r\n");
    }
    EXPECT_TRUE(data == reference(data.size()));
  }  // the client closes mid-stream
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}

TEST(Chargen, StreamEndsCleanlyAtTheConfiguredCap) {
  evald_process::options opts;
  opts.config_json = R"({"chargen": {"max_bytes": "100KiB"}})";
  evald_process server(opts);
  const auto res = get(server.port(), "/chargen");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.body.size(), 100U * 1024);
  EXPECT_TRUE(res.body == reference(100 * 1024));
  const auto over = get(server.port(), "/chargen?bytes=102401");
  EXPECT_EQ(over.status, 400);
  EXPECT_NE(json::parse(over.body)["error"]["message"].get<std::string>().find("at most 102400"),
            std::string::npos);
  EXPECT_EQ(get(server.port(), "/chargen?bytes=x").status, 400);
}

TEST(Chargen, RawTcpListener) {
  evald_process::options opts;
  opts.config_json = R"({"chargen": {"tcp_listen": ["127.0.0.1:0"]}})";
  evald_process server(opts);
  const std::string& out = server.stdout_text();
  const auto at = out.find("chargen on tcp://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << out;
  const auto port = static_cast<std::uint16_t>(std::stoi(out.substr(at + 27)));
  http_client c(port);
  const std::string data = c.read_raw(200'000);
  ASSERT_EQ(data.size(), 200'000U);
  EXPECT_TRUE(data == reference(200'000));
}
