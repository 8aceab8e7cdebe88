#include <windows.h>
// after windows.h
#include <bcrypt.h>
#include <psapi.h>

#include <fcntl.h>
#include <io.h>

#include <cstdio>
#include <stdexcept>
#include <thread>

#include "server/platform.hpp"

namespace evald::platform {

void set_current_thread_name(const std::string& name) {
  // SetThreadDescription needs Windows 10 1607; look it up so older systems (and
  // Wine versions without it) simply skip naming.
  using set_description = HRESULT(WINAPI*)(HANDLE, PCWSTR);
  static const auto fn = reinterpret_cast<set_description>(reinterpret_cast<void*>(
      GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "SetThreadDescription")));
  if (fn != nullptr) {
    const std::wstring wide(name.begin(), name.end());
    fn(GetCurrentThread(), wide.c_str());
  }
}

std::size_t usable_cpu_count() {
  DWORD_PTR process_mask = 0;
  DWORD_PTR system_mask = 0;
  if (GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask) &&
      process_mask != 0) {
    std::size_t count = 0;
    for (DWORD_PTR m = process_mask; m != 0; m &= m - 1) {
      ++count;
    }
    return count;
  }
  return std::max(1U, std::thread::hardware_concurrency());
}

namespace {

std::uint64_t filetime_ticks(const FILETIME& f) {
  return (static_cast<std::uint64_t>(f.dwHighDateTime) << 32) | f.dwLowDateTime;
}

std::chrono::nanoseconds cpu_of_thread(HANDLE thread) noexcept {
  FILETIME creation, exit, kernel, user;
  if (!GetThreadTimes(thread, &creation, &exit, &kernel, &user)) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::nanoseconds((filetime_ticks(kernel) + filetime_ticks(user)) *
                                  100);  // 100 ns units
}

}  // namespace

std::chrono::nanoseconds thread_cpu_time() noexcept {
  return cpu_of_thread(GetCurrentThread());
}

std::uint64_t current_thread_cpu_clock() {
  // A real handle (GetCurrentThread() is a pseudo-handle that means "the caller").
  HANDLE handle = nullptr;
  if (!DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &handle,
                       THREAD_QUERY_LIMITED_INFORMATION, FALSE, 0)) {
    throw std::runtime_error("DuplicateHandle failed");
  }
  return reinterpret_cast<std::uintptr_t>(handle);
}

std::chrono::nanoseconds thread_cpu_time_of(std::uint64_t clock) noexcept {
  return cpu_of_thread(reinterpret_cast<HANDLE>(static_cast<std::uintptr_t>(clock)));
}

process_stats read_process_stats() {
  process_stats s;
  FILETIME creation, exit, kernel, user;
  if (GetProcessTimes(GetCurrentProcess(), &creation, &exit, &kernel, &user)) {
    s.cpu_seconds = static_cast<double>(filetime_ticks(kernel) + filetime_ticks(user)) / 1e7;
  }
  PROCESS_MEMORY_COUNTERS counters{};
  if (K32GetProcessMemoryInfo(GetCurrentProcess(), &counters, sizeof counters)) {
    s.resident_bytes = counters.WorkingSetSize;
    s.virtual_bytes = counters.PagefileUsage;
  }
  DWORD handles = 0;
  if (GetProcessHandleCount(GetCurrentProcess(), &handles)) {
    s.open_fds = handles;
  }
  return s;
}

bool notify_service_manager(std::string_view) noexcept {
  return false;  // no systemd; a Windows service would report through the SCM
}

std::chrono::microseconds service_watchdog_interval() noexcept {
  return std::chrono::microseconds(0);
}

std::vector<inherited_listener> take_inherited_listeners() {
  return {};
}

void fill_random(void* data, std::size_t size) {
  if (BCryptGenRandom(nullptr, static_cast<PUCHAR>(data), static_cast<ULONG>(size),
                      BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) {
    throw std::runtime_error("BCryptGenRandom failed");
  }
}

std::tm utc_time(std::time_t t) noexcept {
  std::tm tm{};
  gmtime_s(&tm, &t);
  return tm;
}

void init_process() {
  // No SIGPIPE on Windows (Winsock reports a broken connection as an error). Binary
  // stdout: the "listening on" line ends in \n as on Linux, for scripts that parse it.
  _setmode(_fileno(stdout), _O_BINARY);
}

const char* os_name() noexcept {
  return "Windows";
}

}  // namespace evald::platform
