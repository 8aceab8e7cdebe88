#pragma once
// The seam between evald and its operating system: everything that differs between
// Linux (POSIX) and Windows lives behind these functions, implemented once in
// platform_posix.cpp and once in platform_windows.cpp. Any thread may call them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

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

// The service manager's notification protocol (sd_notify: one datagram to
// $NOTIFY_SOCKET, e.g. "READY=1"). A no-op when not started by systemd with
// Type=notify, and on Windows. Returns whether a message was sent.
bool notify_service_manager(std::string_view state) noexcept;
// $WATCHDOG_USEC for this process (WATCHDOG_PID checked), or 0 when off.
std::chrono::microseconds service_watchdog_interval() noexcept;

// Listening sockets passed by socket activation (LISTEN_PID/LISTEN_FDS, fds from 3,
// names from LISTEN_FDNAMES). Each is checked to be a listening TCP socket; anything
// else throws std::runtime_error. The variables are unset afterwards so no child
// inherits them. Empty when not socket-activated (and on Windows).
struct inherited_listener {
  int fd;
  bool ipv6;
  std::string name;  // the socket unit's FileDescriptorName=, "" if none
};
std::vector<inherited_listener> take_inherited_listeners();

// Process-wide set-up before anything else runs (SIGPIPE on POSIX).
void init_process();

// "Linux", "Windows".
const char* os_name() noexcept;

}  // namespace evald::platform
