#pragma once
// The one place the Lua C API is included. Debian's lua.hpp wraps the headers in
// extern "C"; the library is liblua5.4-c++ (errors and yields are C++ exceptions).
#include <lua.hpp>

extern "C" {
// Lua's string library with the pattern step budget (lstrlib-step-budget.patch).
int evald_luaopen_budgeted_string(lua_State* L);
}
