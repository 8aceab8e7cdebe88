#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "handlers/sandbox/lua_api.hpp"

// JSON ↔ Lua data for the sandbox (docs: README "Scripts", JSON and Lua):
//   null            ↔ the light userdata `null` (so [1,null,3] keeps its length)
//   true/false      ↔ booleans
//   integers        ↔ Lua integers (64-bit signed); larger ones arrive as floats
//   other numbers   ↔ Lua floats (1.0 stays 1.0); NaN and ±inf cannot be sent back
//   strings         ↔ strings (UTF-8 checked on the way back)
//   arrays          ↔ tables 1..n, recorded in a marks table so [] comes back as []
//   objects         ↔ tables with string keys; an empty unmarked table is {}
// A table whose keys are exactly 1..n becomes an array; any other keys make an
// object (integer and float keys become decimal strings).
// Single-threaded: whoever owns the lua_State.
namespace evald::sandbox {

void push_null(lua_State* L);
bool is_null(lua_State* L, int index);

// Pushes `value` onto L's stack. Allocates, so it can raise a Lua error (memory):
// call it inside a protected call. `marks` is the stack index of the array marks table.
void push_json(lua_State* L, const nlohmann::json& value, int marks);

struct conversion_error {
  std::string message;     // names the JSON path of the problem
  bool too_large = false;  // the output passed max_bytes
};

// Converts the value at `index` with raw access only (no metamethod, no script code
// runs) and without allocating inside Lua, so it is safe outside any protected call.
// `marks` as for push_json. Cycles, functions, NaN, invalid UTF-8 and boolean keys are
// errors; output past `max_bytes` (estimated as JSON text) is `too_large`.
std::optional<conversion_error> to_json(lua_State* L, int index, int marks, std::size_t max_bytes,
                                        nlohmann::json& out);

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

}  // namespace evald::sandbox
