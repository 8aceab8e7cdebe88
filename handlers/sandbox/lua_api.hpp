#pragma once
// The one place the Lua C API is included. Lua is compiled from Debian's source as C++
// (handlers/sandbox/CMakeLists.txt): lua.hpp wraps the headers in extern "C", and
// Debian's luaconf.h gives the API extern "C" linkage too; errors and yields are C++
// exceptions.
#include <lua.hpp>
