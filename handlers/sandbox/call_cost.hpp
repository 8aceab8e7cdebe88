#pragma once
#include "handlers/sandbox/lua_api.hpp"

namespace evald::sandbox {

// Makes the count hook of `L` run at its next VM instruction; returns how many
// instructions of the current period were skipped (so the instruction count stays
// true). Safe at any point of a run (Lua allows lua_sethook from a signal handler
// for the same reason: the counter is only read at an instruction).
int hook_soon(lua_State* L) noexcept;

// Instructions run since the count hook last fired (or since it was set): the part of
// a period the hook has not counted yet, for a run that ends between two hooks.
int instructions_into_period(lua_State* L) noexcept;

}  // namespace evald::sandbox
