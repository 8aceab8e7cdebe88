// Arbitrary Lua sources and JSON inputs through the sandbox with small limits: the
// bytes before the first NUL are the source, the rest the input's JSON text. Each
// run gets 50 ms in 250 µs slices and is then dropped, as at a deadline; a state that
// can be reused runs the input a second time. Any crash, leak, UB or a call that
// holds the thread past the fuzzer's -timeout is a finding.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "handlers/sandbox/script_vm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace evald::sandbox;
  using clock_type = std::chrono::steady_clock;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
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
    while (vm.resume(clock_type::now() + std::chrono::microseconds(250)) ==
           script_vm::step::yielded) {
      if (clock_type::now() > give_up) {
        return 0;  // dropped mid-run: the destructor closes the state
      }
    }
  }
  return 0;
}
