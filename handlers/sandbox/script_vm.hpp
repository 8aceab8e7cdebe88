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

// A failure's message is cut to this many bytes (docs/scripts.md).
inline constexpr std::size_t max_message_bytes = 1024;

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
  std::uint64_t instructions = 0;   // VM instructions the run executed
  std::size_t memory_peak = 0;      // bytes, the whole state included
  std::chrono::nanoseconds cpu{0};  // time spent inside resume()
};

// Which host functions a state's code sees as globals (besides the sandbox's own).
enum class host_api {
  script,  // emit, progress, array: POST /eval scripts and launched script jobs
  rule,    // launch, array: Log Detector conditions and launch conditions
};

// The globals of one Log Detector rule run (docs/log-detector.md).
struct rule_globals {
  const nlohmann::json* log = nullptr;   // the record, its Text already cleaned
  std::string_view text;                 // log.Text
  const nlohmann::json* data = nullptr;  // the context (copied into the run); null: none
  bool launch = false;                   // launch() may be called (a launchCondition)
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

  // A state with no main chunk, for functions added with load() (rule states: one
  // per worker holds every condition it has compiled). ready() says it was created.
  script_vm(const script_limits& limits, host_api api);

  bool compiled() const noexcept { return compiled_; }
  bool ready() const noexcept { return L_ != nullptr && reusable_; }

  // Compiles `source` as one more function of this state; returns its reference, or
  // -1 with `why` (syntax, memory). With `expression_first`, the source is tried as
  // `return <source>` first, as Lua's own REPL does, so a lone expression is a
  // complete condition; line numbers are unchanged.
  int load(std::string_view source, bool expression_first, script_failure& why);
  // Forgets a function from load(); the collector frees it.
  void unload(int ref);

  // Begins a run of function `ref` (from load()) with the rule globals `log`, `text`
  // and `data` in a fresh environment. Requires ready().
  void start_rule(int ref, const rule_globals& globals);
  // After a successful rule run: whether its first return value was truthy.
  bool truthy() const noexcept { return truthy_; }
  // After a successful rule run: the run's global `data` as a JSON object. Fails
  // (kind::result) when it is not a table with string keys or has no JSON form.
  std::optional<script_failure> take_data(nlohmann::json& out);
  // After a launchCondition run: whether launch() was called, and its context (null
  // for launch() without one).
  bool launched() const noexcept { return launched_; }
  nlohmann::json& launch_context() noexcept { return launch_context_; }

  // Begins a run with `input` as the global `input`. Requires compiled() and reusable().
  void start(const nlohmann::json& input);

  enum class step { yielded, finished };
  // Runs the script until `slice_end` passes (at the next hook, every 1,000
  // instructions) or it ends. `stop`, when set, ends the slice at once; if the
  // script cannot yield then, it gets an error instead.
  step resume(std::chrono::steady_clock::time_point slice_end,
              const std::atomic<bool>* stop = nullptr);

  // Drops a run parked at a yield: it is never resumed (yield-and-drop) and the state
  // can start another run or compile.
  void abandon() noexcept { running_ = false; }

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
  // Bytes the log can still take (0 once a line was dropped).
  std::size_t log_room() const noexcept;
  void truncate_log() noexcept { log_truncated_ = true; }
  void report_progress(double fraction);
  // launch(ctx): records the context, last call wins; a Lua error when not allowed.
  void launch(lua_State* L);
  // Work a library call did (evald_cost.h): now and then reads the clock and, past
  // the slice's end plus the burst limit or when asked to stop, kills the run with a
  // Lua error naming `what`. Outside resume() it does nothing.
  void work(lua_State* L, std::size_t units, const char* what);
  // Work the VM or the allocator did: brings the next count hook closer. Never raises.
  void charge(std::size_t units) noexcept;

 private:
  struct allocation {
    script_vm* owner = nullptr;  // charged for what it allocates
    std::size_t used = 0;
    std::size_t peak = 0;
    std::size_t cap = 0;
    bool cap_hit = false;
  };
  static void* allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept;
  void fail(script_failure::kind what, std::string message, std::optional<int> line = {});
  void fail_from_error(lua_State* co, int status);
  void finish_ok(lua_State* co, int nresults);
  void create_state(host_api api, const std::string_view* source);
  void reset_run();
  void begin(int ref, const nlohmann::json* input, const rule_globals* rule);

  script_limits limits_;
  allocation alloc_;
  lua_State* L_ = nullptr;
  lua_State* co_ = nullptr;  // the current run's thread (anchored in the registry)
  int run_args_ = 0;         // arguments for the first resume of a run
  bool compiled_ = false;
  bool reusable_ = false;
  bool running_ = false;
  bool rule_run_ = false;  // the current run is a rule: truthiness, not a JSON result
  bool launch_allowed_ = false;
  bool truthy_ = false;
  bool launched_ = false;
  nlohmann::json launch_context_;
  // Hook state
  std::chrono::steady_clock::time_point slice_end_{};
  const std::atomic<bool>* stop_ = nullptr;
  enum class kill_reason { none, burst, stopped } killed_ = kill_reason::none;
  const char* killed_in_ = nullptr;  // the library call that was stopped, if any
  // The cost meter: the running thread while resume() runs, and the work units left
  // before the clock is read again.
  lua_State* metered_ = nullptr;
  std::int64_t work_left_ = 0;
  // Results
  std::optional<script_failure> failure_;
  nlohmann::json result_;
  std::vector<std::string> log_;
  std::size_t log_bytes_ = 0;
  bool log_truncated_ = false;
  std::int64_t instructions_ = 0;  // a forced hook subtracts the skipped part first
  std::chrono::nanoseconds cpu_{0};
};

// "script:12: boom" → {12, "boom"}; other messages keep no line.
std::pair<std::optional<int>, std::string> split_lua_message(std::string_view message);

}  // namespace evald::sandbox
