#pragma once
// The seam between evald and its operating system: everything that differs between
// Linux (POSIX) and Windows lives behind these functions, implemented once in
// platform_posix.cpp and once in platform_windows.cpp. Any thread may call them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

namespace evald::platform {

// Names the calling thread (visible in top, /proc, debuggers). Best effort.
void set_current_thread_name(const std::string& name);

// Cores this process may use: the CPU affinity mask, capped by a cgroup CPU quota.
std::size_t usable_cpu_count();

// CPU time consumed by the calling thread.
std::chrono::nanoseconds thread_cpu_time() noexcept;

// The calling thread's CPU clock, as a handle another thread can read with
// thread_cpu_time_of() while the thread lives (per-worker busy seconds).
std::uint64_t current_thread_cpu_clock();
std::chrono::nanoseconds thread_cpu_time_of(std::uint64_t clock) noexcept;

// The process as Prometheus' process_* metrics describe it.
struct process_stats {
  double cpu_seconds = 0;  // user + system
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;  // handles on Windows
  std::uint64_t max_fds = 0;   // 0 = unknown
};
process_stats read_process_stats();

// Cryptographically random bytes (getrandom / BCryptGenRandom); throws on failure.
void fill_random(void* data, std::size_t size);

// Broken-down UTC time of t (gmtime_r / gmtime_s).
std::tm utc_time(std::time_t t) noexcept;

// Process-wide set-up before anything else runs (SIGPIPE on POSIX).
void init_process();

// "Linux", "Windows".
const char* os_name() noexcept;

}  // namespace evald::platform
