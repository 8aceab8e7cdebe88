// Arbitrary Lua sources and JSON inputs through the sandbox with small limits: the
// bytes before the first NUL are the source, the rest the input's JSON text. Each
// run gets 50 ms in 250 µs slices and is then dropped, as at a deadline; a state that
// can be reused runs the input a second time. Any crash, leak, UB or a call that
// holds the thread past the fuzzer's -timeout is a finding.
// An input whose first byte is 0x01 is a hostile call instead: the next bytes pick a
// library function and up to three hostile arguments (huge and negative counts, long
// and equal strings, big tables), called again and again; a slice that takes more
// than a few burst limits of CPU is a finding too (the cost meter failed).
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "handlers/sandbox/script_vm.hpp"

namespace {

constexpr std::array<const char*, 38> functions = {
    "string.rep",   "string.find",   "string.match",   "string.gmatch", "string.gsub",
    "string.upper", "string.lower",  "string.reverse", "string.byte",   "string.char",
    "string.sub",   "string.format", "string.pack",    "string.unpack", "string.packsize",
    "string.len",   "table.move",    "table.insert",   "table.remove",  "table.concat",
    "table.unpack", "table.pack",    "table.sort",     "utf8.len",      "utf8.codepoint",
    "utf8.offset",  "utf8.char",     "utf8.codes",     "tonumber",      "tostring",
    "select",       "math.random",   "array",          "contains",      "startswith",
    "endswith",     "emit",          "error"};

constexpr std::array<const char*, 26> arguments = {"0",
                                                   "1",
                                                   "-1",
                                                   "2^31",
                                                   "math.maxinteger",
                                                   "math.mininteger",
                                                   "-math.maxinteger",
                                                   "1e9",
                                                   "s",
                                                   "s2",
                                                   "''",
                                                   "'%'",
                                                   "'.-y'",
                                                   "('x?'):rep(20) .. ('x'):rep(20)",
                                                   "'%bxy'",
                                                   "t",
                                                   "{}",
                                                   "big",
                                                   "'i16'",
                                                   "','",
                                                   "nil",
                                                   "true",
                                                   "0.5",
                                                   "'\\x80'",
                                                   "strs",
                                                   "('\\x80'):rep(3e5)"};

// The hostile program for bytes after the 0x01 marker.
std::string hostile_source(std::string_view bytes) {
  const auto at = [&](std::size_t i) {
    return i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0U;
  };
  std::string call = std::string(functions[at(0) % functions.size()]) + "(";
  const unsigned nargs = at(1) % 4;
  for (unsigned k = 0; k < nargs; ++k) {
    call += (k ? ", " : "");
    call += arguments[at(2 + k) % arguments.size()];
  }
  call += ")";
  return "local s = ('x'):rep(300000) local s2 = ('x'):rep(299999) .. 'x'\n"
         "local t = {1, 2, 3} local big = {} for i = 1, 20000 do big[i] = i end\n"
         "local strs = {} for i = 1, 64 do strs[i] = s end\n"
         "for _ = 1, 40 do pcall(function() " +
         call + " end) end";
}

std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace evald::sandbox;
  using clock_type = std::chrono::steady_clock;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string generated;
  const bool hostile = !bytes.empty() && bytes.front() == '\x01';
  if (hostile) {
    generated = hostile_source(bytes.substr(1));
    bytes = generated;
  }
  const auto nul = bytes.find('\0');
  const std::string_view source = bytes.substr(0, nul);
  const std::string_view input_text =
      nul == std::string_view::npos ? std::string_view{} : bytes.substr(nul + 1);
  nlohmann::json input = nlohmann::json::parse(input_text, nullptr, false);
  if (input.is_discarded()) {
    input = nullptr;
  }
  script_limits limits;
  limits.memory_bytes = 2 * 1024 * 1024;
  limits.burst = std::chrono::milliseconds(5);
  limits.max_result_bytes = 64 * 1024;
  limits.max_log_bytes = 4096;
  limits.max_sort_elements = 1000;
  script_vm vm(source, limits);
  for (int round = 0; round < 2 && vm.compiled() && vm.reusable(); ++round) {
    vm.start(input);
    const auto give_up = clock_type::now() + std::chrono::milliseconds(50);
    for (;;) {
      const auto cpu0 = thread_cpu();
      const auto step = vm.resume(clock_type::now() + std::chrono::microseconds(250));
      // Generous for the instrumented build: seconds before the meter, ~burst now.
      if (hostile && thread_cpu() - cpu0 > 20 * limits.burst) {
        std::abort();  // one slice held the thread far past the burst limit
      }
      if (step != script_vm::step::yielded) {
        break;
      }
      if (clock_type::now() > give_up) {
        return 0;  // dropped mid-run: the destructor closes the state
      }
    }
  }
  return 0;
}
