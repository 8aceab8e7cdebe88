#include <windows.h>
// after windows.h
#include <bcrypt.h>

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

std::chrono::nanoseconds thread_cpu_time() noexcept {
  FILETIME creation, exit, kernel, user;
  if (!GetThreadTimes(GetCurrentThread(), &creation, &exit, &kernel, &user)) {
    return std::chrono::nanoseconds(0);
  }
  auto ticks = [](const FILETIME& f) {
    return (static_cast<std::uint64_t>(f.dwHighDateTime) << 32) | f.dwLowDateTime;
  };
  return std::chrono::nanoseconds((ticks(kernel) + ticks(user)) * 100);  // 100 ns units
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
