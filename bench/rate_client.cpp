// Constant-rate HTTP/1.1 load (open loop) with latency percentiles. Each of C
// keep-alive connections sends on a fixed schedule; latency is measured from the
// *scheduled* send time, so a server stall is charged to every request it delays
// (no coordinated omission, unlike closed-loop tools such as wrk).
// Usage: rate_client PORT PATH RATE_PER_SECOND SECONDS [CONNECTIONS] [BODY] [HEADER]
// BODY (JSON) makes it a POST; HEADER is one more header line (e.g. "Authorization:
// Bearer ..."). A response that is not 2xx counts as an error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: rate_client PORT PATH RATE SECONDS [CONNECTIONS] [BODY] [HEADER]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string path = argv[2];
  const double rate = std::atof(argv[3]);
  const double seconds = std::atof(argv[4]);
  const int conns = argc > 5 ? std::atoi(argv[5]) : 4;
  const std::string body = argc > 6 ? argv[6] : "";
  const std::string header = argc > 7 && argv[7][0] != '\0' ? std::string(argv[7]) + "\r\n" : "";
  const std::string req =
      body.empty()
          ? "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + header + "\r\n"
          : "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + header +
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(conns));
  std::vector<int> errors(static_cast<std::size_t>(conns), 0);
  const auto start = clock_type::now() + std::chrono::milliseconds(50);
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        errors[static_cast<std::size_t>(c)]++;
        return;
      }
      const auto period = std::chrono::duration<double>(conns / rate);
      const auto total = static_cast<long>(seconds * rate / conns);
      char buf[4096];
      std::string got;
      for (long i = 0; i < total; ++i) {
        const auto scheduled = start + std::chrono::duration_cast<clock_type::duration>(
                                           period * (i + c / double(conns)));
        std::this_thread::sleep_until(scheduled);
        if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
          errors[static_cast<std::size_t>(c)]++;
          break;
        }
        // Read one response: its headers, then Content-Length bytes of body; what
        // follows stays for the next one.
        std::size_t head_end = std::string::npos;
        std::size_t need = 0;
        for (;;) {
          if (head_end == std::string::npos) {
            head_end = got.find("\r\n\r\n");
            if (head_end != std::string::npos) {
              const auto cl = got.find("Content-Length: ");
              need = head_end + 4 +
                     (cl != std::string::npos && cl < head_end
                          ? static_cast<std::size_t>(std::atol(got.c_str() + cl + 16))
                          : 0);
            }
          }
          if (head_end != std::string::npos && got.size() >= need) {
            break;
          }
          const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) {
            errors[static_cast<std::size_t>(c)]++;
            return;
          }
          got.append(buf, static_cast<std::size_t>(n));
        }
        if (got.compare(0, 10, "HTTP/1.1 2") != 0) {
          errors[static_cast<std::size_t>(c)]++;
        }
        got.erase(0, need);
        lat[static_cast<std::size_t>(c)].push_back(
            std::chrono::duration<double, std::micro>(clock_type::now() - scheduled).count());
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::vector<double> all;
  int errs = 0;
  for (int c = 0; c < conns; ++c) {
    all.insert(all.end(), lat[static_cast<std::size_t>(c)].begin(),
               lat[static_cast<std::size_t>(c)].end());
    errs += errors[static_cast<std::size_t>(c)];
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[static_cast<std::size_t>(p * (all.size() - 1))];
  };
  std::printf(
      "%zu requests at %.0f/s over %d connections, %d errors: p50 %.0f us  p99 %.0f us  p99.9 %.0f "
      "us  max %.0f us\n",
      all.size(), rate, conns, errs, pct(0.5), pct(0.99), pct(0.999),
      all.empty() ? 0.0 : all.back());
  return errs == 0 ? 0 : 1;
}
