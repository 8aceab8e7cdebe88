#include "handlers/sandbox/sandbox_env.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#if defined(__linux__)
#include <sys/random.h>
#endif

namespace evald::sandbox {
namespace {

// Registry key (its address) of the templates table.
const char templates_key = 0;

constexpr std::array<const char*, 14> base_names = {
    "assert", "error",  "ipairs", "next",     "pairs",    "pcall", "rawequal",
    "rawlen", "rawget", "select", "tonumber", "tostring", "type",  "_VERSION"};

constexpr std::array<const char*, 4> library_names = {"string", "table", "math", "utf8"};

// Trusted helper chunks, compiled in text mode like scripts. The handler of this
// xpcall runs after pcall returned, so a looping handler is sliced and killed like
// any other code (the stock one runs the handler with hooks off).
constexpr std::string_view xpcall_source = R"(
local pcall, pack, unpack = ...
return function(f, handler, ...)
  local r = pack(pcall(f, ...))
  if r[1] then return unpack(r, 1, r.n) end
  return false, handler(r[2])
end)";

// Lua's sort is C: it cannot yield, and the cost meter stops it at the burst limit
// (a sort of 65,536 numbers takes about that). Past 2,048 elements the sort is this
// bottom-up merge sort in Lua instead: sliced like any other code (its comparisons,
// and a comparator, run hooked and yield), stable, about three times the CPU.
constexpr std::string_view sort_source = R"lua(
local sort, type, rawlen, error, limit, pcall, gsub = ...
local small = 2048
local function merge_sort(t, n, cmp)
  local src, dst = {}, {}
  for i = 1, n do src[i] = t[i] end
  local width = 1
  while width < n do
    local i = 1
    while i <= n do
      local mid, hi = i + width, i + 2 * width
      if mid > n + 1 then mid = n + 1 end
      if hi > n + 1 then hi = n + 1 end
      local l, r, k = i, mid, i
      while l < mid and r < hi do
        local x, y = src[l], src[r]
        local before
        if cmp then before = cmp(y, x) else before = y < x end
        if before then dst[k] = y r = r + 1 else dst[k] = x l = l + 1 end
        k = k + 1
      end
      while l < mid do dst[k] = src[l] l = l + 1 k = k + 1 end
      while r < hi do dst[k] = src[r] r = r + 1 k = k + 1 end
      i = hi
    end
    src, dst = dst, src
    width = width * 2
  end
  for i = 1, n do t[i] = src[i] end
end
return function(t, cmp)
  if type(t) == "table" then
    local n = rawlen(t)
    if n > limit then
      error("table.sort: more than " .. limit .. " elements", 2)
    end
    if n > small then
      if cmp ~= nil and type(cmp) ~= "function" then
        error("bad argument #2 to 'sort' (function expected, got " .. type(cmp) .. ")", 2)
      end
      local ok, e = pcall(merge_sort, t, n, cmp)
      if not ok then
        -- As the C sort's errors read: a comparison's error at the caller's line,
        -- a comparator's own error as it was raised.
        local ours = 0
        if type(e) == "string" then e, ours = gsub(e, "^evald:%d+: ", "") end
        error(e, ours > 0 and 2 or 0)
      end
      return
    end
  end
  return sort(t, cmp)
end)lua";

// Plain-text tests that read like the Python they replace (`"x" in text`,
// text.startswith("x")): no pattern syntax to escape, and the search is the budgeted
// plain find. An error names the caller's line.
constexpr std::string_view text_helpers_source = R"(
local find, sub, type, error = ...
local function check(name, s, x)
  if type(s) ~= "string" then
    error(name .. ": argument #1 must be a string, got " .. type(s), 3)
  end
  if type(x) ~= "string" then
    error(name .. ": argument #2 must be a string, got " .. type(x), 3)
  end
end
return function(s, x) check("contains", s, x) return find(s, x, 1, true) ~= nil end,
  function(s, x) check("startswith", s, x) return sub(s, 1, #x) == x end,
  function(s, x) check("endswith", s, x) return #x == 0 or sub(s, -#x) == x end)";

// 64-bit words from the OS's CSPRNG, drawn 64 at a time per thread (one getrandom
// call per 32 runs): each run's math.random is seeded with two of them, so no run
// can learn or steer another's numbers, even on a reused state.
std::uint64_t fresh_seed_word() {
  thread_local std::array<std::uint64_t, 64> pool{};
  thread_local std::size_t next = pool.size();
  if (next == pool.size()) {
#if defined(__linux__)
    auto* bytes = reinterpret_cast<unsigned char*>(pool.data());
    std::size_t got = 0;
    while (got < sizeof pool) {
      const ssize_t n = getrandom(bytes + got, sizeof pool - got, 0);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
      }
    }
#else
    std::random_device device;
    for (auto& word : pool) {
      word = (std::uint64_t{device()} << 32) | device();
    }
#endif
    next = 0;
  }
  return pool[next++];
}

// Seeds the generator (upvalue 1: the stock math.randomseed) with fresh words.
void seed_fresh(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushinteger(L, static_cast<lua_Integer>(fresh_seed_word()));
  lua_pushinteger(L, static_cast<lua_Integer>(fresh_seed_word()));
  lua_call(L, 2, 0);
}

// math.randomseed as scripts see it: with arguments it seeds this run's generator
// (a reproducible sequence), without them it draws a fresh seed; it returns nothing
// (the stock one returns the seed, which held a heap address).
int safe_randomseed(lua_State* L) {
  if (lua_gettop(L) == 0) {
    seed_fresh(L);
    return 0;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 0);
  return 0;
}

// The reseed every run starts with (upvalue 1: the stock math.randomseed).
int reseed_fresh(lua_State* L) {
  seed_fresh(L);
  return 0;
}

// __newindex of a run's global table and library proxies. A new value is stored in
// the run's own table. Assigning nil to a name the templates provide must hide it
// for the rest of the run (`pairs = nil` read as the template's pairs before): the
// table gets a private metatable reading through to a copy of the template without
// that name. Rare, so the common path stays one raw table read.
int shadowing_newindex(lua_State* L) {
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    lua_rawset(L, 1);
    return 0;
  }
  lua_pushvalue(L, 2);
  lua_pushnil(L);
  lua_rawset(L, 1);  // nil: gone from the run's own table
  if (lua_getmetatable(L, 1) == 0) {
    return 0;
  }
  const int mt = lua_gettop(L);
  lua_pushliteral(L, "__index");
  lua_rawget(L, mt);
  const int index = lua_gettop(L);
  if (lua_type(L, index) != LUA_TTABLE) {
    return 0;
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, index) == LUA_TNIL) {
    return 0;  // the templates do not have it: nothing to hide
  }
  lua_pop(L, 1);
  lua_pushliteral(L, "private");
  if (lua_rawget(L, mt) == LUA_TBOOLEAN) {
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_rawset(L, index);  // already this run's own copy
    return 0;
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 32);  // the copy, without the name
  const int copy = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, copy);
  }
  lua_pushvalue(L, 2);
  lua_pushnil(L);
  lua_rawset(L, copy);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, copy);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, shadowing_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "private");
  lua_setmetatable(L, 1);
  return 0;
}

// Compiles a helper chunk and calls it with the `nargs` values on top of the stack;
// leaves the `nresults` functions it returns.
void make_helper(lua_State* L, std::string_view source, int nargs, int nresults = 1) {
  if (luaL_loadbufferx(L, source.data(), source.size(), "=evald", "t") != LUA_OK) {
    lua_error(L);
  }
  lua_insert(L, -(nargs + 1));
  lua_call(L, nargs, nresults);
}

}  // namespace

void install_templates(lua_State* L, std::size_t max_sort_elements, const luaL_Reg* host) {
  lua_createtable(L, 0, 8);  // templates
  const int templates = lua_gettop(L);

  luaL_requiref(L, "_G", luaopen_base, 0);
  lua_createtable(L, 0, static_cast<int>(base_names.size()));
  for (const char* name : base_names) {
    lua_getfield(L, -2, name);
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, templates, "base");
  lua_settop(L, templates);

  luaL_requiref(L, "string", luaopen_string, 0);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");  // no bytecode anywhere (also gone from ("").dump)
  lua_setfield(L, templates, "string");
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1) != 0) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_settop(L, templates);

  luaL_requiref(L, "table", luaopen_table, 0);
  const int table_lib = lua_gettop(L);
  lua_getfield(L, table_lib, "sort");
  lua_getglobal(L, "type");
  lua_getglobal(L, "rawlen");
  lua_getglobal(L, "error");
  lua_pushinteger(L, static_cast<lua_Integer>(max_sort_elements));
  lua_getglobal(L, "pcall");
  lua_getfield(L, templates, "string");
  lua_getfield(L, -1, "gsub");
  lua_remove(L, -2);
  make_helper(L, sort_source, 7);
  lua_setfield(L, table_lib, "sort");
  lua_setfield(L, templates, "table");

  luaL_requiref(L, "math", luaopen_math, 0);
  lua_getfield(L, -1, "randomseed");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, reseed_fresh, 1);
  lua_setfield(L, templates, "reseed");
  lua_pushcclosure(L, safe_randomseed, 1);
  lua_setfield(L, -2, "randomseed");
  lua_setfield(L, templates, "math");
  luaL_requiref(L, "utf8", luaopen_utf8, 0);
  lua_setfield(L, templates, "utf8");

  lua_getglobal(L, "pcall");
  lua_getfield(L, templates, "table");
  lua_getfield(L, -1, "pack");
  lua_getfield(L, -2, "unpack");
  lua_remove(L, -3);
  make_helper(L, xpcall_source, 3);
  lua_setfield(L, templates, "xpcall");

  // The globals every run reads through to: the base functions, xpcall and the host
  // API. A run's environment is an empty table with this as __index, so what the
  // script assigns stays in its own table.
  lua_getfield(L, templates, "base");
  lua_getfield(L, templates, "xpcall");
  lua_setfield(L, -2, "xpcall");
  if (host != nullptr) {
    luaL_setfuncs(L, host, 0);
  }
  const int globals = lua_gettop(L);
  lua_getfield(L, templates, "string");
  lua_getfield(L, -1, "find");
  lua_getfield(L, -2, "sub");
  lua_remove(L, -3);
  lua_getfield(L, globals, "type");
  lua_getfield(L, globals, "error");
  make_helper(L, text_helpers_source, 4, 3);
  lua_setfield(L, globals, "endswith");
  lua_setfield(L, globals, "startswith");
  lua_setfield(L, globals, "contains");
  lua_pushlightuserdata(L, nullptr);
  lua_setfield(L, -2, "null");
  lua_createtable(L, 0, 2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, shadowing_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setfield(L, templates, "globals_mt");

  // One metatable per library: a run's library tables are empty proxies reading
  // through to the templates (their writes stay in the proxy).
  for (const char* name : library_names) {
    lua_createtable(L, 0, 2);
    lua_getfield(L, templates, name);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, shadowing_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setfield(L, templates, (std::string(name) + "_mt").c_str());
  }

  lua_rawsetp(L, LUA_REGISTRYINDEX, &templates_key);
  lua_settop(L, templates - 1);
}

void push_fresh_env(lua_State* L) {
  luaL_checkstack(L, 8, "no stack for the environment");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &templates_key);
  const int templates = lua_gettop(L);
  // A state may serve several evaluations: math.random's generator is reseeded from
  // the OS's CSPRNG, so no run can learn or steer the numbers another run draws.
  lua_getfield(L, templates, "reseed");
  lua_call(L, 0, 0);
  lua_createtable(L, 0, 8);
  const int env = lua_gettop(L);
  lua_getfield(L, templates, "globals_mt");
  lua_setmetatable(L, env);
  static const std::array<std::string, library_names.size()> metatable_names = [] {
    std::array<std::string, library_names.size()> names;
    for (std::size_t i = 0; i < names.size(); ++i) {
      names[i] = std::string(library_names[i]) + "_mt";
    }
    return names;
  }();
  for (std::size_t i = 0; i < library_names.size(); ++i) {
    // Copying ~60 functions per run was a third of a tiny evaluation's cost; an
    // empty table reading through to the template costs one allocation, and what a
    // script assigns to it (string.find = f) stays in it.
    lua_createtable(L, 0, 0);
    lua_getfield(L, templates, metatable_names[i].c_str());
    lua_setmetatable(L, -2);
    lua_setfield(L, env, library_names[i]);
  }
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  lua_remove(L, templates);
}

}  // namespace evald::sandbox
