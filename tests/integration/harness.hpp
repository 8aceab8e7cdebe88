#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace evald::test {

// The signal that asks evald to drain: SIGTERM, or EVALD_TEST_STOP_SIGNAL (SIGINT
// under Wine, which turns SIGTERM into a hard kill).
int graceful_signal();

// The real evald binary, started on 127.0.0.1:0; the port is read from the line
// it prints on stdout. The destructor kills it if a test did not stop it.
class evald_process {
 public:
  struct options {
    std::vector<std::string> args;  // appended after --listen/--threads
    std::string config_json;        // written to a temp file and passed as --config
    std::uint32_t threads = 2;
    std::map<std::string, std::string> env;  // extra environment
    std::uint64_t nofile_limit = 0;          // RLIMIT_NOFILE for the server; 0 = inherit
    // The config's own "listen" (e.g. a TLS listener on 127.0.0.1:0) instead of
    // --listen 127.0.0.1:0; it must have a plain one on 127.0.0.1 too.
    bool listen_from_config = false;
  };
  evald_process() : evald_process(options{}) {}
  explicit evald_process(const options& opts);
  ~evald_process();
  evald_process(const evald_process&) = delete;
  evald_process& operator=(const evald_process&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint16_t tls_port() const { return tls_port_; }  // the first https:// listener
  pid_t pid() const { return pid_; }
  // Sends `signo`, waits up to `timeout`; returns the exit status (or 128+signal,
  // or -1 on timeout, after which the process is killed).
  int stop(int signo = graceful_signal(),
           std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void signal(int signo) const;
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string stderr_text() const;
  const std::string& stdout_text() const { return stdout_text_; }
  std::vector<std::string> fd_targets() const;  // readlink of /proc/<pid>/fd/*
  std::size_t thread_count() const;             // entries of /proc/<pid>/task
  std::size_t fd_count() const;                 // entries of /proc/<pid>/fd
  std::size_t rss_kib() const;                  // VmRSS from /proc/<pid>/status
  double cpu_seconds() const;                   // utime + stime from /proc/<pid>/stat

 private:
  // One start: fork, exec, read the port; throws when no port is reported.
  void launch(const std::vector<std::string>& args, const options& opts);
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::string stderr_path_;
  std::string stdout_text_;
  std::string config_path_;
  bool exited_ = false;
  int status_ = 0;
};

// Runs evald with `args` to completion (for --check-config, --version, errors); one
// still running after 60 s is killed, and says so in `err`.
struct run_result {
  int status;
  std::string out;
  std::string err;
};
run_result run_evald(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env = {});
// Runs `program` with `args` (for wrappers such as no_io_uring_exec EVALD_BINARY ...);
// one still running after `limit` is killed, and says so in `err`.
run_result run_program(const std::string& program, const std::vector<std::string>& args,
                       std::chrono::seconds limit = std::chrono::seconds(120));

// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the new value.
std::uint64_t raise_fd_limit();

std::string write_temp_file(const std::string& content, const std::string& suffix);

}  // namespace evald::test
