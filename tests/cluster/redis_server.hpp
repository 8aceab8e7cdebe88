#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

// A real redis-server (Debian's) for a test: its own port on 127.0.0.1 (and a unix
// socket) in a temporary directory, AOF on, noeviction; stopped by PID.
namespace evald::test {

class redis_server {
 public:
  // Throws std::runtime_error when redis-server cannot start.
  explicit redis_server(std::vector<std::string> extra_args = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& socket_path() const { return socket_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  void kill9();          // kill -9 and reap
  void restart();        // the same port, directory and AOF
  void restart_empty();  // kill -9, its AOF and dump deleted, started again: all data lost
  void pause();          // SIGSTOP
  void resume();         // SIGCONT
  // Runs redis-cli with `args` and returns its stdout (trimmed).
  std::string cli(const std::vector<std::string>& args) const;

  static bool available();  // redis-server is installed

 private:
  void start();
  void wait_ready(std::chrono::milliseconds limit) const;

  std::vector<std::string> extra_;
  std::string dir_;
  std::string socket_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace evald::test
