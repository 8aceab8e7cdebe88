#include "handlers/sandbox/script_vm.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "handlers/sandbox/call_cost.hpp"
#include "handlers/sandbox/lua_api.hpp"
#include "handlers/sandbox/lua_json.hpp"
#include "handlers/sandbox/sandbox_env.hpp"

namespace evald::sandbox {
namespace {

// Registry keys (their addresses).
const char function_key = 0;  // the compiled chunk
const char thread_key = 0;    // the current run's thread (keeps it alive)
const char marks_key = 0;     // the current run's array marks
const char env_key = 0;       // the current run's environment

// The hook runs every this many VM instructions: about 3 µs apart on this machine,
// and the hook's cost does not depend on it.
constexpr int hook_period = 1000;

// Work units (about a nanosecond each, evald_cost.h) between two readings of the clock
// inside a long library call.
constexpr std::int64_t work_check_interval = 50'000;

// What an allocation costs in work units besides its bytes (malloc, and the
// construction of the object it holds).
constexpr std::size_t allocation_cost = 20;

// Closing a state that grew past this returns its pages to the system.
constexpr std::size_t trim_after_peak = 4 * 1024 * 1024;

script_vm* vm_of(lua_State* L) {
  return *static_cast<script_vm**>(lua_getextraspace(L));
}

void count_hook(lua_State* L, lua_Debug*) {
  vm_of(L)->on_hook(L);
}

std::string format_number(lua_State* L, int index) {
  char buf[48];
  if (lua_isinteger(L, index)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(lua_tointeger(L, index)));
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.14g", lua_tonumber(L, index));
  std::string s = buf;
  if (s.find_first_of(".eni") == std::string::npos) {
    s += ".0";  // as Lua's tostring: a float stays recognisable
  }
  return s;
}

// emit(...): one log line, the arguments joined by tabs (as print would).
int lua_emit(lua_State* L) {
  const int n = lua_gettop(L);
  script_vm* vm = vm_of(L);
  std::string line;
  for (int i = 1; i <= n; ++i) {
    if (i > 1) {
      line.push_back('\t');
    }
    switch (lua_type(L, i)) {
      case LUA_TSTRING: {
        std::size_t len = 0;
        const char* s = lua_tolstring(L, i, &len);
        // A line past what the log can still take is never copied (it would be
        // dropped): emit(s) of a 7 MB string in a loop was 2 ms of copying per call.
        if (vm->log_room() < line.size() + len) {
          vm->truncate_log();
          return 0;
        }
        vm->work(L, len / 4, "emit");
        line.append(s, len);
        break;
      }
      case LUA_TNUMBER:
        line += format_number(L, i);
        break;
      case LUA_TBOOLEAN:
        line += lua_toboolean(L, i) != 0 ? "true" : "false";
        break;
      case LUA_TNIL:
        line += "nil";
        break;
      default:
        if (is_null(L, i)) {
          line += "null";
          break;
        }
        return luaL_error(L,
                          "emit: argument #%d is a %s (emit takes strings, numbers, booleans "
                          "and nil)",
                          i, luaL_typename(L, i));
    }
  }
  vm->append_log(std::move(line));
  return 0;
}

// progress(fraction): how far a launched job is, from 0 to 1.
int lua_progress(lua_State* L) {
  const lua_Number f = luaL_checknumber(L, 1);
  if (!(f >= 0.0 && f <= 1.0)) {
    return luaL_error(L, "progress: the fraction must be from 0 to 1");
  }
  vm_of(L)->report_progress(static_cast<double>(f));
  return 0;
}

// array(...): a table that becomes a JSON array even when empty.
int lua_array(lua_State* L) {
  const int n = lua_gettop(L);
  script_vm* vm = vm_of(L);
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; ++i) {
    if ((i & 1023) == 1) {
      vm->work(L, 1024 * 20, "array");  // up to a million arguments: checked as it goes
    }
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i);
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &marks_key);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return 1;
}

// launch(ctx): a launchCondition starts a new state machine with this context.
int lua_launch(lua_State* L) {
  vm_of(L)->launch(L);
  return 0;
}

struct setup_args {
  const std::string_view* source;  // null: a rule state (functions come from load())
  std::size_t max_sort;
  const luaL_Reg* host;
  int load_status = LUA_OK;
};

constexpr luaL_Reg script_functions[] = {
    {"emit", lua_emit}, {"progress", lua_progress}, {"array", lua_array}, {nullptr, nullptr}};
constexpr luaL_Reg rule_functions[] = {
    {"launch", lua_launch}, {"array", lua_array}, {nullptr, nullptr}};

int protected_setup(lua_State* L) {
  auto* args = static_cast<setup_args*>(lua_touserdata(L, 1));
  install_templates(L, args->max_sort, args->host);
  if (args->source == nullptr) {
    return 0;
  }
  args->load_status =
      luaL_loadbufferx(L, args->source->data(), args->source->size(), "=script", "t");
  if (args->load_status != LUA_OK) {
    return lua_error(L);
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, &function_key);
  return 0;
}

struct load_args {
  std::string_view source;
  bool expression_first;
  int ref = LUA_NOREF;
};

int protected_load(lua_State* L) {
  auto* args = static_cast<load_args*>(lua_touserdata(L, 1));
  int status = LUA_ERRSYNTAX;
  if (args->expression_first) {
    std::string expression = "return ";
    expression.append(args->source);
    status = luaL_loadbufferx(L, expression.data(), expression.size(), "=script", "t");
    if (status != LUA_OK) {
      lua_pop(L, 1);
    }
  }
  if (status != LUA_OK &&
      luaL_loadbufferx(L, args->source.data(), args->source.size(), "=script", "t") != LUA_OK) {
    return lua_error(L);  // the statements' message: the one a reader expects
  }
  args->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

struct start_args {
  int ref;  // LUA_NOREF: the main chunk
  const nlohmann::json* input;
  const rule_globals* rule;
  lua_State* thread = nullptr;
};

int protected_start(lua_State* L) {
  auto* args = static_cast<start_args*>(lua_touserdata(L, 1));
  lua_State* co = lua_newthread(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &thread_key);  // the previous run's thread is garbage now
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &marks_key);
  const int marks = lua_gettop(L);
  push_fresh_env(L);
  const int env = lua_gettop(L);
  lua_pushvalue(L, env);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &env_key);  // take_data() reads the run's globals
  if (args->rule != nullptr) {
    push_json(L, *args->rule->log, marks);
    lua_setfield(L, env, "log");
    lua_pushlstring(L, args->rule->text.data(), args->rule->text.size());
    lua_setfield(L, env, "text");
    if (args->rule->data != nullptr) {
      push_json(L, *args->rule->data, marks);
      lua_setfield(L, env, "data");
    }
  } else {
    push_json(L, *args->input, marks);
    lua_setfield(L, env, "input");
  }
  if (args->ref == LUA_NOREF) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &function_key);
  } else {
    lua_rawgeti(L, LUA_REGISTRYINDEX, args->ref);
  }
  lua_pushvalue(L, env);
  lua_setupvalue(L, -2, 1);  // the chunk's _ENV: this run's environment
  lua_xmove(L, co, 1);
  lua_sethook(co, count_hook, LUA_MASKCOUNT, hook_period);
  args->thread = co;
  return 0;
}

struct read_data_args {
  std::size_t max_bytes;
  nlohmann::json* out;
  std::optional<conversion_error> problem;
  bool is_table = false;
};

int protected_read_data(lua_State* L) {
  auto* args = static_cast<read_data_args*>(lua_touserdata(L, 1));
  lua_rawgetp(L, LUA_REGISTRYINDEX, &marks_key);
  const int marks = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &env_key);
  lua_pushliteral(L, "data");
  lua_rawget(L, -2);
  args->is_table = lua_type(L, -1) == LUA_TTABLE;
  if (args->is_table) {
    args->problem = to_json(L, lua_gettop(L), marks, args->max_bytes, *args->out);
  }
  return 0;
}

}  // namespace

std::pair<std::optional<int>, std::string> split_lua_message(std::string_view message) {
  constexpr std::string_view prefix = "script:";
  if (message.starts_with(prefix)) {
    std::size_t i = prefix.size();
    int line = 0;
    while (i < message.size() && message[i] >= '0' && message[i] <= '9' && line < 100'000'000) {
      line = line * 10 + (message[i] - '0');
      ++i;
    }
    if (i > prefix.size() && message.substr(i, 2) == ": ") {
      return {line, std::string(message.substr(i + 2))};
    }
  }
  return {std::nullopt, std::string(message)};
}

void* script_vm::allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) noexcept {
  auto* a = static_cast<allocation*>(ud);
  if (ptr == nullptr) {
    osize = 0;  // then osize is a type tag, not a size
  }
  if (nsize == 0) {
    std::free(ptr);
    a->used -= osize;
    return nullptr;
  }
  if (nsize > osize && a->used - osize + nsize > a->cap) {
    a->cap_hit = true;  // refuse growth only: Lua runs an emergency GC and retries once
    return nullptr;
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) {
    if (nsize <= osize) {
      return ptr;  // a failed shrink leaves the block as it was, and Lua may not fail here
    }
    a->cap_hit = true;
    return nullptr;
  }
  a->used = a->used - osize + nsize;
  a->peak = std::max(a->peak, a->used);
  if (a->owner != nullptr) {
    // Building a big string or table costs in proportion to its bytes: charge them.
    a->owner->charge(allocation_cost + (nsize > osize ? (nsize - osize) / 4 : 0));
  }
  return p;
}

script_vm::script_vm(std::string_view source, const script_limits& limits) : limits_(limits) {
  create_state(host_api::script, &source);
}

script_vm::script_vm(const script_limits& limits, host_api api) : limits_(limits) {
  create_state(api, nullptr);
}

void script_vm::create_state(host_api api, const std::string_view* source) {
  alloc_.cap = limits_.memory_bytes;
  alloc_.owner = this;
  L_ = lua_newstate(&script_vm::allocate, &alloc_);
  if (L_ == nullptr) {
    fail(script_failure::kind::memory, "the memory limit is too small to create a Lua state");
    return;
  }
  *static_cast<script_vm**>(lua_getextraspace(L_)) = this;
  setup_args args{source, limits_.max_sort_elements,
                  api == host_api::rule ? rule_functions : script_functions};
  lua_pushcfunction(L_, protected_setup);
  lua_pushlightuserdata(L_, &args);
  const int status = lua_pcall(L_, 1, 0, 0);
  if (status != LUA_OK) {
    if (status == LUA_ERRMEM || alloc_.cap_hit) {
      fail(script_failure::kind::memory,
           "the memory limit of " + std::to_string(alloc_.cap) + " bytes was reached compiling");
    } else {
      // Any other load failure is the source's fault, including the parser's "C stack
      // overflow" on deeply nested expressions.
      std::size_t len = 0;
      const char* text = lua_type(L_, -1) == LUA_TSTRING ? lua_tolstring(L_, -1, &len) : nullptr;
      auto [line, message] = split_lua_message(text ? std::string_view(text, len) : "");
      fail(script_failure::kind::syntax, message.empty() ? "the script does not compile" : message,
           line);
    }
    lua_settop(L_, 0);
    return;
  }
  compiled_ = source != nullptr;
  reusable_ = true;
}

int script_vm::load(std::string_view source, bool expression_first, script_failure& why) {
  if (!ready() || running_) {
    why = script_failure{script_failure::kind::runtime, {}, "the state cannot compile now"};
    return -1;
  }
  alloc_.cap_hit = false;
  load_args args{source, expression_first};
  lua_pushcfunction(L_, protected_load);
  lua_pushlightuserdata(L_, &args);
  const int status = lua_pcall(L_, 1, 0, 0);
  if (status == LUA_OK) {
    return args.ref;
  }
  if (status == LUA_ERRMEM || alloc_.cap_hit) {
    reusable_ = false;
    why = script_failure{
        script_failure::kind::memory,
        {},
        "the memory limit of " + std::to_string(alloc_.cap) + " bytes was reached compiling"};
  } else {
    std::size_t len = 0;
    const char* text = lua_type(L_, -1) == LUA_TSTRING ? lua_tolstring(L_, -1, &len) : nullptr;
    auto [line, message] = split_lua_message(text ? std::string_view(text, len) : "");
    if (!valid_utf8(message)) {
      message = "(the error message is not valid UTF-8)";
    }
    why = script_failure{script_failure::kind::syntax, line,
                         message.empty() ? "the code does not compile" : std::move(message)};
  }
  lua_settop(L_, 0);
  return -1;
}

void script_vm::unload(int ref) {
  if (L_ != nullptr && ref >= 0) {
    luaL_unref(L_, LUA_REGISTRYINDEX, ref);  // frees a slot: never allocates
  }
}

script_vm::~script_vm() {
  if (L_ != nullptr) {
    lua_close(L_);  // no finalizer exists to run: scripts cannot set metatables
  }
#if defined(__GLIBC__)
  if (alloc_.peak >= trim_after_peak) {
    // A memory bomb's megabytes are free now, but glibc keeps them while anything
    // (another state, a buffer) sits above them in the heap: give them back.
    malloc_trim(0);
  }
#endif
}

void script_vm::reset_run() {
  failure_.reset();
  result_ = nullptr;
  log_.clear();
  log_bytes_ = 0;
  log_truncated_ = false;
  killed_ = kill_reason::none;
  killed_in_ = nullptr;
  alloc_.cap_hit = false;
  alloc_.peak = alloc_.used;  // this run's peak, from what the state holds now
  instructions_ = 0;
  cpu_ = std::chrono::nanoseconds(0);
  running_ = false;
  truthy_ = false;
  launched_ = false;
  launch_context_ = nullptr;
}

void script_vm::start(const nlohmann::json& input) {
  reset_run();
  rule_run_ = false;
  launch_allowed_ = false;
  if (!compiled_ || !reusable_) {
    fail(script_failure::kind::runtime, "the script state cannot run another input");
    return;
  }
  begin(LUA_NOREF, &input, nullptr);
}

void script_vm::start_rule(int ref, const rule_globals& globals) {
  reset_run();
  rule_run_ = true;
  launch_allowed_ = globals.launch;
  if (!ready() || ref < 0) {
    fail(script_failure::kind::runtime, "the rule state cannot run");
    return;
  }
  begin(ref, nullptr, &globals);
}

void script_vm::begin(int ref, const nlohmann::json* input, const rule_globals* rule) {
  start_args args{ref, input, rule};
  lua_pushcfunction(L_, protected_start);
  lua_pushlightuserdata(L_, &args);
  const int status = lua_pcall(L_, 1, 0, 0);
  if (status != LUA_OK) {
    lua_settop(L_, 0);
    reusable_ = false;
    fail(alloc_.cap_hit || status == LUA_ERRMEM ? script_failure::kind::memory
                                                : script_failure::kind::runtime,
         alloc_.cap_hit || status == LUA_ERRMEM
             ? "the memory limit of " + std::to_string(alloc_.cap) +
                   " bytes was reached converting the input"
             : "the input could not be converted to Lua data");
    return;
  }
  co_ = args.thread;
  run_args_ = 0;
  running_ = true;
}

std::optional<script_failure> script_vm::take_data(nlohmann::json& out) {
  read_data_args args{limits_.max_result_bytes, &out, std::nullopt};
  lua_pushcfunction(L_, protected_read_data);
  lua_pushlightuserdata(L_, &args);
  const int status = lua_pcall(L_, 1, 0, 0);
  lua_settop(L_, 0);
  if (status != LUA_OK) {
    reusable_ = false;
    return script_failure{
        script_failure::kind::memory, {}, "the memory limit was reached reading data"};
  }
  if (!args.is_table) {
    return script_failure{
        script_failure::kind::result, {}, "data must stay a table (the context is a JSON object)"};
  }
  if (args.problem) {
    return script_failure{args.problem->too_large ? script_failure::kind::result_too_large
                                                  : script_failure::kind::result,
                          {},
                          "data: " + args.problem->message};
  }
  if (out.is_array() && out.empty()) {
    out = nlohmann::json::object();
  }
  if (!out.is_object()) {
    return script_failure{script_failure::kind::result,
                          {},
                          "data must be a table with string keys (the context is a JSON "
                          "object), not an array"};
  }
  return std::nullopt;
}

void script_vm::launch(lua_State* L) {
  if (!launch_allowed_) {
    luaL_error(L, "launch() is for launch conditions (POST /eval-launch with a payload)");
    return;
  }
  if (lua_isnoneornil(L, 1)) {
    launched_ = true;
    launch_context_ = nullptr;
    return;
  }
  if (!lua_istable(L, 1)) {
    luaL_error(L, "launch: the context must be a table or nothing, got a %s", luaL_typename(L, 1));
    return;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &marks_key);
  nlohmann::json context;
  auto problem = to_json(L, 1, lua_gettop(L), limits_.max_result_bytes, context);
  if (!problem && context.is_array() && context.empty()) {
    context = nlohmann::json::object();
  }
  if (!problem && !context.is_object()) {
    problem = conversion_error{"the context must be a table with string keys, not an array"};
  }
  if (problem) {
    const std::string message = "launch: " + problem->message;
    context = nullptr;
    luaL_error(L, "%s", message.c_str());
    return;
  }
  // Converted now: what the code changes after the call is not part of the launch.
  launched_ = true;
  launch_context_ = std::move(context);
}

script_vm::step script_vm::resume(std::chrono::steady_clock::time_point slice_end,
                                  const std::atomic<bool>* stop) {
  if (!running_) {
    return step::finished;
  }
  const auto t0 = std::chrono::steady_clock::now();
  // A slice end already past (a chunk that ran other inputs first) counts from now:
  // the burst allowance of a call is measured from when this run could first yield.
  slice_end_ = std::max(slice_end, t0);
  stop_ = stop;
  int nresults = 0;
  metered_ = co_;
  work_left_ = work_check_interval;
  const int status = lua_resume(co_, L_, run_args_, &nresults);
  metered_ = nullptr;
  cpu_ += std::chrono::steady_clock::now() - t0;
  stop_ = nullptr;
  if (status == LUA_YIELD && killed_ == kill_reason::none) {
    return step::yielded;  // only the hook yields: scripts have no coroutine library
  }
  running_ = false;
  // The instructions since the last hook: a two-line script showed 0 before.
  instructions_ += instructions_into_period(co_);
  if (status == LUA_OK) {
    finish_ok(co_, nresults);
  } else {
    fail_from_error(co_, status);
  }
  return step::finished;
}

void script_vm::finish_ok(lua_State* co, int nresults) {
  if (alloc_.cap_hit) {
    reusable_ = false;  // it came close to the cap: a fresh state for the next input
  }
  if (rule_run_) {
    truthy_ = nresults > 0 && lua_toboolean(co, lua_gettop(co) - nresults + 1) != 0;
    lua_settop(co, 0);
    return;
  }
  if (nresults == 0) {
    result_ = nullptr;
    return;
  }
  const int first = lua_gettop(co) - nresults + 1;
  if (!lua_checkstack(co, 8)) {
    reusable_ = false;
    fail(script_failure::kind::result, "no stack space left to convert the result");
    return;
  }
  lua_rawgetp(co, LUA_REGISTRYINDEX, &marks_key);
  const int marks = lua_gettop(co);
  auto problem = to_json(co, first, marks, limits_.max_result_bytes, result_);
  lua_settop(co, 0);
  if (problem) {
    result_ = nullptr;
    fail(problem->too_large ? script_failure::kind::result_too_large : script_failure::kind::result,
         std::move(problem->message));
  }
}

void script_vm::fail_from_error(lua_State* co, int status) {
  if (killed_ != kill_reason::none) {
    reusable_ = false;
    const std::string burst_ms = std::to_string(limits_.burst.count() / 1000) + " ms";
    if (killed_ == kill_reason::burst && killed_in_ != nullptr) {
      fail(script_failure::kind::burst, std::string(killed_in_) +
                                            " ran longer than the burst limit (" + burst_ms +
                                            ") in one call; do the work in smaller calls");
    } else if (killed_ == kill_reason::burst) {
      fail(script_failure::kind::burst,
           "the script ran longer than the burst limit (" + burst_ms +
               ") where it could not yield: inside a table.sort comparator, a string.gsub "
               "callback or a similar library call");
    } else {
      fail(script_failure::kind::stopped, "the script was stopped");
    }
    return;
  }
  if (status == LUA_ERRMEM || alloc_.cap_hit) {
    reusable_ = false;
    fail(script_failure::kind::memory,
         "the memory limit of " + std::to_string(alloc_.cap) + " bytes was reached");
    return;
  }
  std::string text;
  switch (lua_type(co, -1)) {
    case LUA_TSTRING: {
      std::size_t len = 0;
      const char* s = lua_tolstring(co, -1, &len);
      text.assign(s, len);
      break;
    }
    case LUA_TNUMBER:
      text = format_number(co, -1);
      break;
    default:
      // Never tostring() it: a table's __tostring would run outside the slicing.
      text = std::string("(error object is a ") + luaL_typename(co, -1) + " value)";
  }
  auto [line, message] = split_lua_message(text);
  if (!line) {
    // error("x", 0) or a non-string error: the innermost line of the script that is
    // still on the dead thread's stack.
    lua_Debug ar;
    for (int level = 0; lua_getstack(co, level, &ar) != 0; ++level) {
      if (lua_getinfo(co, "Sl", &ar) != 0 && ar.currentline > 0 &&
          std::strcmp(ar.source, "=script") == 0) {
        line = ar.currentline;
        break;
      }
    }
  }
  if (!valid_utf8(message)) {
    message = "(the error message is not valid UTF-8)";
  }
  fail(script_failure::kind::runtime, std::move(message), line);
}

void script_vm::fail(script_failure::kind what, std::string message, std::optional<int> line) {
  if (message.size() > max_message_bytes) {
    // error(string.rep("x", 1e7)) in each slot of a map made a 111-byte request
    // answer 336 MB: a message is cut, at a UTF-8 boundary, and says how long it was.
    std::size_t cut = max_message_bytes;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    const std::size_t full = message.size();
    message.resize(cut);
    message += "... (cut: the message was " + std::to_string(full) + " bytes)";
  }
  failure_ = script_failure{what, line, std::move(message)};
}

script_stats script_vm::stats() const noexcept {
  return script_stats{static_cast<std::uint64_t>(std::max<std::int64_t>(instructions_, 0)),
                      alloc_.peak, cpu_};
}

void script_vm::charge(std::size_t units) noexcept {
  if (metered_ == nullptr) {
    return;
  }
  work_left_ -= static_cast<std::int64_t>(std::min<std::size_t>(units, INT64_MAX / 2));
  if (work_left_ <= 0) {
    instructions_ -= hook_soon(metered_);  // the hook reads the clock and resets the meter
  }
}

void script_vm::work(lua_State* L, std::size_t units, const char* what) {
  if (metered_ == nullptr) {
    return;
  }
  const auto cost = static_cast<std::int64_t>(std::min<std::size_t>(units, INT64_MAX / 2));
  work_left_ -= cost;
  if (work_left_ > 0 && cost < work_check_interval) {
    return;
  }
  work_left_ = work_check_interval;
  instructions_ -= hook_soon(metered_);
  if (killed_ == kill_reason::none) {
    const bool stop = stop_ != nullptr && stop_->load(std::memory_order_relaxed);
    // `units` is the work about to be done (about a nanosecond each): a big copy that
    // would end past the allowance is refused before it starts, not after.
    if (stop) {
      killed_ = kill_reason::stopped;
    } else if (std::chrono::steady_clock::now() + std::chrono::nanoseconds(cost) - slice_end_ >=
               limits_.burst) {
      killed_ = kill_reason::burst;
    } else {
      return;
    }
    killed_in_ = what;
    // As on_hook does: the error may be caught by a pcall, so from now on the hook
    // runs at every instruction and ends the run at the first one it can.
    lua_sethook(metered_, count_hook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, "%s was stopped (burst limit or cancellation)", what);
}

void script_vm::on_hook(lua_State* L) {
  instructions_ += hook_period;
  work_left_ = work_check_interval;
  const bool stop = stop_ != nullptr && stop_->load(std::memory_order_relaxed);
  if (killed_ == kill_reason::none) {
    const auto now = std::chrono::steady_clock::now();
    if (now < slice_end_ && !stop) {
      return;
    }
    if (lua_isyieldable(L) != 0) {
      lua_yield(L, 0);  // end of the slice; the host resumes it later, or never
      return;
    }
    if (stop) {
      killed_ = kill_reason::stopped;
    } else if (now - slice_end_ >= limits_.burst) {
      killed_ = kill_reason::burst;
    } else {
      return;  // inside a comparator or callback: yield once it returns
    }
    // From now on the hook runs at every instruction, so the error is raised again
    // on the first one outside whatever pcall caught it. Set once: re-arming a hook
    // walks every frame, and doing it per call made unwinding quadratic (§1.2).
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  } else if (lua_isyieldable(L) != 0) {
    lua_yield(L, 0);  // killed earlier and the error was caught: this yield ends it
    return;
  }
  // Not yieldable: an error is the only way out of a C call. A pcall may catch it,
  // but the next hook that can yield ends the run.
  luaL_error(L, "the script was stopped (burst limit or cancellation)");
}

std::size_t script_vm::log_room() const noexcept {
  return log_truncated_ || log_bytes_ >= limits_.max_log_bytes ? 0
                                                               : limits_.max_log_bytes - log_bytes_;
}

void script_vm::append_log(std::string line) {
  if (log_truncated_ || log_bytes_ + line.size() > limits_.max_log_bytes) {
    log_truncated_ = true;
    return;
  }
  log_bytes_ += line.size();
  log_.push_back(std::move(line));
}

void script_vm::report_progress(double fraction) {
  if (on_progress) {
    on_progress(fraction);
  }
}

}  // namespace evald::sandbox
