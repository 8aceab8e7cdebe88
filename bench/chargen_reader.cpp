// Reads /chargen from C clients in parallel for a fixed time and prints the
// aggregate goodput. Usage: chargen_reader PORT CLIENTS SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: chargen_reader PORT CLIENTS SECONDS\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int clients = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  std::atomic<unsigned long long> total{0};
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("connect");
        std::exit(1);
      }
      const std::string req = "GET /chargen HTTP/1.1\r\nHost: x\r\n\r\n";
      if (::send(fd, req.data(), req.size(), 0) < 0) {
        std::exit(1);
      }
      std::vector<char> buf(1 << 20);
      unsigned long long got = 0;
      while (std::chrono::steady_clock::now() < end) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
          break;
        }
        got += static_cast<unsigned long long>(n);
      }
      total += got;
      ::close(fd);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::printf("%d client(s): %.2f Gbit/s\n", clients,
              static_cast<double>(total.load()) * 8 / seconds / 1e9);
  return 0;
}
