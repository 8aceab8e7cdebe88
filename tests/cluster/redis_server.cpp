#include "tests/cluster/redis_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace evald::test {
namespace {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

bool redis_server::available() {
  return std::system("command -v redis-server >/dev/null 2>&1") == 0;
}

redis_server::redis_server(std::vector<std::string> extra_args) : extra_(std::move(extra_args)) {
  char tmpl[] = "/tmp/evald-redis.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  dir_ = tmpl;
  socket_ = dir_ + "/redis.sock";
  port_ = free_port();
  start();
}

redis_server::~redis_server() {
  if (pid_ > 0) {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void redis_server::start() {
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--unixsocket",
                                   socket_,
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "yes",
                                   "--appendfsync",
                                   "always",
                                   "--maxmemory",
                                   "256mb",
                                   "--maxmemory-policy",
                                   "noeviction",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    // Dies with the test (a crashed test must not leave a server behind), and
    // holds none of the test's output pipes (ctest waits for them to close).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  wait_ready(std::chrono::seconds(10));
}

void redis_server::wait_ready(std::chrono::milliseconds limit) const {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      throw std::runtime_error("redis-server exited at start; see " + dir_ + "/redis.log");
    }
    if (std::chrono::steady_clock::now() > give_up) {
      throw std::runtime_error("redis-server did not start listening");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a port, not timing
  }
}

void redis_server::kill9() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void redis_server::restart() {
  if (pid_ > 0) {
    kill9();
  }
  start();
}

void redis_server::restart_empty() {
  if (pid_ > 0) {
    kill9();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_ + "/appendonlydir", ec);
  std::filesystem::remove(dir_ + "/dump.rdb", ec);
  start();
}

void redis_server::pause() {
  ::kill(pid_, SIGSTOP);
}
void redis_server::resume() {
  ::kill(pid_, SIGCONT);
}

std::string redis_server::cli(const std::vector<std::string>& args) const {
  std::string cmd = "redis-cli -p " + std::to_string(port_);
  for (const auto& a : args) {
    cmd += " '" + a + "'";
  }
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), buf.size(), p) != nullptr) {
      out += buf.data();
    }
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

}  // namespace evald::test
