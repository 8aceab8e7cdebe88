#pragma once
#include <chrono>
#include <cstddef>

namespace evald::sandbox {

// What one evaluation may use. The CPU limit is the evaluation's deadline, which the
// host enforces by never resuming a script again (yield-and-drop).
struct script_limits {
  std::size_t memory_bytes = 16 * 1024 * 1024;  // every allocation of the Lua state
  // Longest stretch past a slice's end where the script cannot yield (inside a
  // table.sort comparator or a gsub callback) before it is stopped.
  std::chrono::microseconds burst{20'000};
  std::size_t max_result_bytes = 1024 * 1024;  // the result as JSON text
  std::size_t max_log_bytes = 64 * 1024;       // emit() lines, in total
  std::size_t max_sort_elements = 65'536;      // table.sort refuses larger tables

  bool operator==(const script_limits&) const = default;
};

}  // namespace evald::sandbox
