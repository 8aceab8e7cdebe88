#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
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
