// The sandbox alone: what one script evaluation costs outside the server.
//   fresh state: new state + libraries + compile + run + close (a single /eval)
//   reused state: fresh environment + input + run, in a compiled state (a map's inputs)
//   hook overhead: a tight loop with and without the count hook's slicing
// Usage: bench_script [iterations] [quick]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "handlers/sandbox/script_vm.hpp"

using namespace evald::sandbox;
using clock_type = std::chrono::steady_clock;

namespace {

double run_to_end(script_vm& vm, const nlohmann::json& input) {
  vm.start(input);
  while (vm.resume(clock_type::now() + std::chrono::microseconds(250)) ==
         script_vm::step::yielded) {
  }
  if (vm.failure()) {
    std::fprintf(stderr, "script failed: %s\n", vm.failure()->message.c_str());
    std::exit(1);
  }
  return vm.result().is_number() ? vm.result().get<double>() : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const script_limits limits;
  const nlohmann::json input = {{"a", 1}, {"b", 2}};
  const std::string tiny = "return input.a + input.b";
  const std::string condition =
      "return input.text:find('park position', 1, true) ~= nil and input.thread == 'Thread-7'";
  const nlohmann::json record = {{"text", "telescope reached park position at 03:12"},
                                 {"thread", "Thread-7"}};
  double sink = 0;

  for (const auto& [name, source, in] :
       {std::tuple{"tiny (return input.a + input.b)", tiny, input},
        std::tuple{"condition (plain find + field)", condition, record}}) {
    auto t0 = clock_type::now();
    for (int i = 0; i < n; ++i) {
      script_vm vm(source, limits);
      sink += run_to_end(vm, in);
    }
    const double fresh_us =
        std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n;
    script_vm vm(source, limits);
    t0 = clock_type::now();
    for (int i = 0; i < n; ++i) {
      sink += run_to_end(vm, in);
    }
    const double reused_us =
        std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n;
    std::printf("%-34s fresh state %6.1f us/eval   reused state %5.1f us/eval   peak %zu B\n", name,
                fresh_us, reused_us, vm.stats().memory_peak);
  }

  if (argc > 2) {
    return 0;  // bench_script N quick: the per-evaluation figures only (for profiling)
  }
  // A CPU-bound loop: instructions per second through the sliced resume.
  script_vm loop("local s = 0 for i = 1, 5e7 do s = s + i end return s", limits);
  const auto t0 = clock_type::now();
  sink += run_to_end(loop, nullptr);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf(
      "tight loop (5e7 iterations)        %6.1f ms, %.0f M instructions/s counted by the "
      "hook, %zu slices of 250 us\n",
      secs * 1e3, static_cast<double>(loop.stats().instructions) / secs / 1e6,
      static_cast<std::size_t>(secs / 250e-6));
  std::printf("(checksum %.0f)\n", sink);
  return 0;
}
