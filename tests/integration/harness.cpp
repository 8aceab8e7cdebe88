#include "tests/integration/harness.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace evald::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything a child needs up to exec, built before fork(): in a multithreaded
// parent the child may make only async-signal-safe calls. A forked child of the ASan
// build once hung for good in malloc, whose lock another thread held at the fork.
class child_image {
 public:
  child_image(std::vector<std::string> argv, const std::map<std::string, std::string>& env)
      : arg_strings_(std::move(argv)) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (!env.contains(std::string(entry.substr(0, entry.find('='))))) {
        env_strings_.emplace_back(entry);
      }
    }
    for (const auto& [k, v] : env) {
      env_strings_.push_back(k + "=" + v);
    }
    for (auto& a : arg_strings_) {
      argv_.push_back(a.data());
    }
    argv_.push_back(nullptr);
    for (auto& e : env_strings_) {
      envp_.push_back(e.data());
    }
    envp_.push_back(nullptr);
  }

  // Async-signal-safe: runs in the forked child.
  [[noreturn]] void exec() const noexcept {
    execve(argv_[0], argv_.data(), envp_.data());
    _exit(127);
  }

 private:
  std::vector<std::string> arg_strings_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

// EVALD_TEST_BINARY overrides the binary under test and EVALD_TEST_WRAPPER runs it
// through a program (the Windows build: wine64 evald.exe).
child_image evald_image(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  const char* binary = std::getenv("EVALD_TEST_BINARY");
  const char* wrapper = std::getenv("EVALD_TEST_WRAPPER");
  std::vector<std::string> argv;
  if (wrapper != nullptr && *wrapper != '\0') {
    argv.emplace_back(wrapper);
  }
  argv.emplace_back(binary != nullptr ? binary : EVALD_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  return child_image(std::move(argv), env);
}

}  // namespace

std::string write_temp_file(const std::string& content, const std::string& suffix) {
  std::string path = "/tmp/evald-test-XXXXXX" + suffix;
  const int fd = mkstemps(path.data(), static_cast<int>(suffix.size()));
  if (fd < 0) {
    throw std::runtime_error("mkstemps failed");
  }
  const auto written = ::write(fd, content.data(), content.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) {
    throw std::runtime_error("short write to temp file");
  }
  return path;
}

evald_process::evald_process(const options& opts) {
  std::vector<std::string> args = {"--threads", std::to_string(opts.threads)};
  if (!opts.listen_from_config) {
    args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
  }
  if (!opts.config_json.empty()) {
    config_path_ = write_temp_file(opts.config_json, ".json");
    args.insert(args.begin(), {"--config", config_path_});
  }
  args.insert(args.end(), opts.args.begin(), opts.args.end());
  stderr_path_ = write_temp_file("", ".log");
  for (int attempt = 0;; ++attempt) {
    try {
      launch(args, opts);
      return;
    } catch (const std::runtime_error& e) {
      // Wine's own link to its wineserver failing as a process starts ("wine client
      // error: ... recvmsg: Connection reset by peer", seen twice in fresh-clone runs)
      // is Wine's, not evald's: the Windows build is started once more.
      const char* wrapper = std::getenv("EVALD_TEST_WRAPPER");
      if (attempt == 0 && wrapper != nullptr && *wrapper != '\0' &&
          std::string(e.what()).find("wine client error") != std::string::npos) {
        std::fprintf(stderr, "[harness] Wine failed to start evald.exe, starting it again: %s\n",
                     e.what());
        exited_ = false;
        port_ = 0;
        continue;
      }
      throw;
    }
  }
}

void evald_process::launch(const std::vector<std::string>& args, const options& opts) {
  const child_image image = evald_image(args, opts.env);
  int out_pipe[2];
  if (pipe(out_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], 1);
    const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_TRUNC);
    dup2(err, 2);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    if (opts.nofile_limit != 0) {
      const rlimit lim{opts.nofile_limit, opts.nofile_limit};
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    image.exec();
  }
  ::close(out_pipe[1]);
  // Read stdout until the listening line, for at most 20 s.
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (port_ == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) {
      continue;
    }
    char buf[512];
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
    const auto at = text.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) {
      const auto end = text.find('\n', at);
      if (end != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + 30, end - at - 30)));
      }
    }
    // Printed before or after the plain one: the lines come in listen order.
    const auto tls_at = text.find("listening on https://127.0.0.1:");
    if (tls_at != std::string::npos && tls_port_ == 0) {
      const auto end = text.find('\n', tls_at);
      if (end != std::string::npos) {
        tls_port_ =
            static_cast<std::uint16_t>(std::stoi(text.substr(tls_at + 31, end - tls_at - 31)));
      }
    }
  }
  stdout_text_ = text;
  ::close(out_pipe[0]);  // evald ignores SIGPIPE; later stdout lines are not needed
  if (port_ == 0) {
    stop(SIGKILL);
    throw std::runtime_error("evald did not report a port; stderr:\n" + stderr_text());
  }
}

evald_process::~evald_process() {
  if (!exited_) {
    stop(graceful_signal(), std::chrono::seconds(15));  // graceful, so LeakSanitizer runs
  }
  // A sanitizer report in the server is a test failure wherever it happened.
  const std::string err = stderr_text();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "WARNING: ThreadSanitizer", "runtime error:"}) {
    const auto at = err.find(marker);
    if (at != std::string::npos) {
      ADD_FAILURE() << "sanitizer report from evald:\n" << err.substr(at, 4000);
      break;
    }
  }
  if (!config_path_.empty()) {
    ::unlink(config_path_.c_str());
  }
  ::unlink(stderr_path_.c_str());
}

void evald_process::signal(int signo) const {
  ::kill(pid_, signo);
}

int graceful_signal() {
  const char* v = std::getenv("EVALD_TEST_STOP_SIGNAL");
  return v != nullptr ? std::atoi(v) : SIGTERM;
}

std::optional<int> evald_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exited_) {
    return status_;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child's exit
  }
}

int evald_process::stop(int signo, std::chrono::milliseconds timeout) {
  if (exited_) {
    return status_;
  }
  signal(signo);
  if (auto st = wait_exit(timeout)) {
    return *st;
  }
  ::kill(pid_, SIGKILL);
  wait_exit(std::chrono::seconds(5));
  return -1;
}

std::string evald_process::stderr_text() const {
  return read_file(stderr_path_);
}

std::vector<std::string> evald_process::fd_targets() const {
  std::vector<std::string> out;
  const std::string dir = "/proc/" + std::to_string(pid_) + "/fd";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') {
        continue;
      }
      char target[256];
      const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n > 0) {
        out.emplace_back(target, static_cast<std::size_t>(n));
      }
    }
    closedir(d);
  }
  return out;
}

std::size_t evald_process::thread_count() const {
  std::size_t count = 0;
  const std::string dir = "/proc/" + std::to_string(pid_) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      count += e->d_name[0] != '.' ? 1 : 0;
    }
    closedir(d);
  }
  return count;
}

std::size_t evald_process::fd_count() const {
  return fd_targets().size();
}

std::size_t evald_process::rss_kib() const {
  std::istringstream in(read_file("/proc/" + std::to_string(pid_) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoul(line.substr(6));
    }
  }
  return 0;
}

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

double evald_process::cpu_seconds() const {
  const std::string stat = read_file("/proc/" + std::to_string(pid_) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14) {
      utime = std::stoull(field);
    } else if (i == 15) {
      stime = std::stoull(field);
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

// Runs a child to completion with stdout and stderr captured. A child still running
// after `limit` is killed and reported, so a test fails instead of hanging.
run_result run_captured(const child_image& image, std::chrono::seconds limit) {
  const std::string out_path = write_temp_file("", ".out");
  const std::string err_path = write_temp_file("", ".err");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(::open(out_path.c_str(), O_WRONLY | O_TRUNC), 1);
    dup2(::open(err_path.c_str(), O_WRONLY | O_TRUNC), 2);
    image.exec();
  }
  // The syscall: Debian 12's <sys/pidfd.h> lacks extern "C", so its wrapper does not link.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{pidfd, POLLIN, 0};
  int ready = 0;
  do {
    ready = pidfd < 0 ? 1 : poll(&p, 1, static_cast<int>(limit.count() * 1000));
  } while (ready < 0 && errno == EINTR);
  const bool ended = ready != 0;
  if (!ended) {
    ::kill(pid, SIGKILL);
  }
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  run_result r{WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_file(out_path),
               read_file(err_path)};
  if (!ended) {
    r.err += "\n[harness] killed: still running after " + std::to_string(limit.count()) + " s\n";
  }
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

}  // namespace

run_result run_evald(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& env) {
  return run_captured(evald_image(args, env), std::chrono::seconds(60));
}

run_result run_program(const std::string& program, const std::vector<std::string>& args,
                       std::chrono::seconds limit) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_captured(child_image(std::move(argv), {}), limit);
}

}  // namespace evald::test
