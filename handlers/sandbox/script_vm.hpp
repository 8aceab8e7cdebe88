#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/sandbox/script_limits.hpp"

struct lua_State;

namespace evald::sandbox {

struct script_failure {
  enum class kind {
    syntax,            // the source does not compile (400)
    runtime,           // error(), a runtime error, the pattern budget, stack overflow (422)
    memory,            // the memory cap was hit and the run failed (422)
    burst,             // could not yield for longer than the burst limit (422)
    result,            // the result has no JSON form (422)
    result_too_large,  // the result is larger than max_result_bytes (413)
    stopped,           // the host asked it to stop while it could not yield
  };
  kind what;
  std::optional<int> line;  // of the script, when known
  std::string message;      // never a host path or internal detail
};

struct script_stats {
  std::uint64_t instructions = 0;   // VM instructions, counted by the hook (±1,000)
  std::size_t memory_peak = 0;      // bytes, the whole state included
  std::chrono::nanoseconds cpu{0};  // time spent inside resume()
};

// One Lua state running one compiled script, sliced: resume() runs until the slice
// ends, the hook yields, and the host decides whether to resume again (next slice)
// or never (yield-and-drop: the destructor closes the state). The state can run
// several inputs one after another (start() gives each a fresh environment); a run
// that hit the memory cap or was killed leaves it unusable (reusable() false).
// Owned by one thread at a time; never shared. No Asio, no HTTP.
class script_vm {
 public:
  // Compiles `source` (text only). On failure, failure() says why (syntax/memory).
  script_vm(std::string_view source, const script_limits& limits);
  ~script_vm();
  script_vm(const script_vm&) = delete;
  script_vm& operator=(const script_vm&) = delete;

  bool compiled() const noexcept { return compiled_; }

  // Begins a run with `input` as the global `input`. Requires compiled() and reusable().
  void start(const nlohmann::json& input);

  enum class step { yielded, finished };
  // Runs the script until `slice_end` passes (at the next hook, every 1,000
  // instructions) or it ends. `stop`, when set, ends the slice at once; if the
  // script cannot yield then, it gets an error instead.
  step resume(std::chrono::steady_clock::time_point slice_end,
              const std::atomic<bool>* stop = nullptr);

  // After step::finished (or a failed construction): the failure, if any.
  const std::optional<script_failure>& failure() const noexcept { return failure_; }
  // After a successful run: the script's first return value as JSON (null if none).
  nlohmann::json& result() noexcept { return result_; }
  const std::vector<std::string>& log() const noexcept { return log_; }
  bool log_truncated() const noexcept { return log_truncated_; }
  script_stats stats() const noexcept;
  bool reusable() const noexcept { return reusable_; }
  // Bytes the state uses now (the whole state).
  std::size_t memory_used() const noexcept { return alloc_.used; }
  const script_limits& limits() const noexcept { return limits_; }

  // Called (on the running thread) when the script calls progress(fraction).
  std::function<void(double)> on_progress;

  // --- for the Lua callbacks (hook, emit, progress) ---
  void on_hook(lua_State* L);
  void append_log(std::string line);
  void report_progress(double fraction);

 private:
  struct allocation {
    std::size_t used = 0;
    std::size_t peak = 0;
    std::size_t cap = 0;
    bool cap_hit = false;
  };
  static void* allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept;
  void fail(script_failure::kind what, std::string message, std::optional<int> line = {});
  void fail_from_error(lua_State* co, int status);
  void finish_ok(lua_State* co, int nresults);

  script_limits limits_;
  allocation alloc_;
  lua_State* L_ = nullptr;
  lua_State* co_ = nullptr;  // the current run's thread (anchored in the registry)
  int run_args_ = 0;         // arguments for the first resume of a run
  bool compiled_ = false;
  bool reusable_ = false;
  bool running_ = false;
  // Hook state
  std::chrono::steady_clock::time_point slice_end_{};
  const std::atomic<bool>* stop_ = nullptr;
  enum class kill_reason { none, burst, stopped } killed_ = kill_reason::none;
  // Results
  std::optional<script_failure> failure_;
  nlohmann::json result_;
  std::vector<std::string> log_;
  std::size_t log_bytes_ = 0;
  bool log_truncated_ = false;
  std::uint64_t instructions_ = 0;
  std::chrono::nanoseconds cpu_{0};
};

// "script:12: boom" → {12, "boom"}; other messages keep no line.
std::pair<std::optional<int>, std::string> split_lua_message(std::string_view message);

}  // namespace evald::sandbox
