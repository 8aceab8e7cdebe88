#pragma once
#include <cstddef>

#include "handlers/sandbox/lua_api.hpp"

// What a script sees (docs/scripts.md): the safe base functions, copies of string
// (budgeted matcher, no dump), table (table.sort size-capped), math and utf8, and an
// xpcall whose handler runs after the error unwound (hooked and yieldable, unlike the
// stock one), and the plain-text tests contains(s, x), startswith(s, x) and
// endswith(s, x). Absent: load, dofile, require, package, io, os, debug, collectgarbage,
// coroutine, setmetatable, getmetatable, rawset, print. The string metatable is
// locked. Single-threaded: whoever owns the lua_State.
namespace evald::sandbox {

// Opens the libraries once per state and keeps them as templates in the registry.
// Allocates (may raise a Lua error): call inside a protected call.
// `host` (may be null) are the host API functions every run sees as globals.
void install_templates(lua_State* L, std::size_t max_sort_elements, const luaL_Reg* host);

// Pushes a fresh environment for one run: its own global table and its own library
// tables, empty tables that read through to the state's templates (base functions,
// host API, libraries), so what one run assigns (`x = 1`, `string.find = f`) stays in
// that run's tables; the templates cannot be reached or changed. Allocates
// (protected call).
void push_fresh_env(lua_State* L);

}  // namespace evald::sandbox
