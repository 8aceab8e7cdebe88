#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "server/platform.hpp"

namespace evald::platform {

void set_current_thread_name(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

std::size_t usable_cpu_count() {
  std::size_t cpus = std::max(1U, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    cpus = static_cast<std::size_t>(std::max(1, CPU_COUNT(&set)));
  }
  // A cgroup v2 CPU quota (containers, systemd CPUQuota=) caps the useful workers.
  std::ifstream cpu_max("/sys/fs/cgroup/cpu.max");
  std::string quota;
  std::uint64_t period = 0;
  if (cpu_max >> quota >> period && quota != "max" && period > 0) {
    const double limit = std::stod(quota) / static_cast<double>(period);
    cpus = std::min(cpus, std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(limit))));
  }
  return cpus;
}

std::chrono::nanoseconds thread_cpu_time() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

std::uint64_t current_thread_cpu_clock() {
  clockid_t id{};
  if (pthread_getcpuclockid(pthread_self(), &id) != 0) {
    throw std::runtime_error("pthread_getcpuclockid failed");
  }
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(id));
}

std::chrono::nanoseconds thread_cpu_time_of(std::uint64_t clock) noexcept {
  timespec ts{};
  if (clock_gettime(static_cast<clockid_t>(static_cast<std::int32_t>(clock)), &ts) != 0) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

process_stats read_process_stats() {
  process_stats s;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    auto secs = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    s.cpu_seconds = secs(usage.ru_utime) + secs(usage.ru_stime);
  }
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages_virtual = 0;
  std::uint64_t pages_resident = 0;
  if (statm >> pages_virtual >> pages_resident) {
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    s.virtual_bytes = pages_virtual * page;
    s.resident_bytes = pages_resident * page;
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') {
        ++s.open_fds;
      }
    }
    closedir(dir);
    --s.open_fds;  // the directory stream's own descriptor
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    s.max_fds = limit.rlim_cur;
  }
  return s;
}

bool notify_service_manager(std::string_view state) noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@') || path[1] == '\0') {
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t length = std::strlen(path);
  if (length >= sizeof addr.sun_path) {
    return false;
  }
  std::memcpy(addr.sun_path, path, length);
  if (addr.sun_path[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  const bool sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&addr), size) >= 0;
  close(fd);
  return sent;
}

std::chrono::microseconds service_watchdog_interval() noexcept {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) {
    return std::chrono::microseconds(0);
  }
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && std::atol(pid) != getpid()) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(std::strtoull(usec, nullptr, 10));
}

std::vector<inherited_listener> take_inherited_listeners() {
  std::vector<inherited_listener> out;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (pid == nullptr || fds == nullptr || std::atol(pid) != getpid()) {
    return out;
  }
  const int count = std::atoi(fds);
  std::vector<std::string> names;
  if (const char* n = std::getenv("LISTEN_FDNAMES")) {
    std::string all(n);
    for (std::size_t start = 0;;) {
      const auto colon = all.find(':', start);
      names.push_back(all.substr(start, colon - start));
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  constexpr int first_fd = 3;  // SD_LISTEN_FDS_START
  for (int i = 0; i < count; ++i) {
    const int fd = first_fd + i;
    const std::string which = "socket-activation fd " + std::to_string(fd);
    int type = 0;
    int listening = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
      throw std::runtime_error(which + " is not a stream socket");
    }
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
      throw std::runtime_error(which + " is not listening");
    }
    sockaddr_storage addr{};
    len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
      throw std::runtime_error(which + " is not a TCP/IP socket");
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.push_back({fd, addr.ss_family == AF_INET6,
                   i < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(i)] : ""});
  }
  return out;
}

void fill_random(void* data, std::size_t size) {
  auto* p = static_cast<unsigned char*>(data);
  while (size > 0) {
    const ssize_t n = getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::runtime_error("getrandom failed");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

std::tm utc_time(std::time_t t) noexcept {
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

void init_process() {
  std::signal(SIGPIPE, SIG_IGN);
}

const char* os_name() noexcept {
  return "Linux";
}

}  // namespace evald::platform
