#include "handlers/sandbox/lua_json.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace evald::sandbox {
namespace {

using json = nlohmann::json;
constexpr int max_depth = 64;

struct to_json_context {
  lua_State* L;
  int marks;
  std::size_t budget;
  std::size_t limit;                     // the budget it started with, for the message
  std::vector<const void*> path_tables;  // tables on the current path (cycle check)
  std::string path;                      // "/a/3/b", for error messages
  std::optional<conversion_error> error;
};

void fail(to_json_context& c, const std::string& what, bool too_large = false) {
  if (!c.error) {
    c.error = conversion_error{
        (c.path.empty() ? std::string("the result") : "result" + c.path) + ": " + what, too_large};
  }
}

bool spend(to_json_context& c, std::size_t bytes) {
  if (bytes > c.budget) {
    c.error = conversion_error{"the result is larger than the " + std::to_string(c.limit) +
                                   " bytes of JSON allowed (limits.result_bytes), at " +
                                   (c.path.empty() ? std::string("its top") : c.path),
                               true};
    return false;
  }
  c.budget -= bytes;
  return true;
}

std::string number_key(lua_State* L, int index) {
  if (lua_isinteger(L, index)) {
    return std::to_string(lua_tointeger(L, index));
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", lua_tonumber(L, index));
  return buf;
}

bool convert(to_json_context& c, int index, json& out, int depth);

// The bytes `s` takes inside a JSON string once escaped, as the server writes it
// (UTF-8 kept, control characters as \n or \u00XX): a string of control characters
// is six times its length, and the limit is on what the client receives.
std::size_t escaped_size(const char* s, std::size_t len) {
  std::size_t n = len;
  for (std::size_t i = 0; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f') {
      n += 1;
    } else if (b < 0x20) {
      n += 5;
    }
  }
  return n;
}

bool convert_table(to_json_context& c, int index, json& out, int depth) {
  lua_State* L = c.L;
  const void* self = lua_topointer(L, index);
  for (const void* p : c.path_tables) {
    if (p == self) {
      fail(c, "a table that contains itself (a cycle) cannot be converted to JSON");
      return false;
    }
  }
  if (depth >= max_depth) {
    fail(c, "nested deeper than " + std::to_string(max_depth) + " tables");
    return false;
  }
  if (!lua_checkstack(L, 6)) {
    fail(c, "no stack space left to convert the result");
    return false;
  }
  // Shape first: exactly the keys 1..n is an array.
  std::size_t count = 0;
  lua_Integer max_key = 0;
  bool integer_keys = true;
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    ++count;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      max_key = std::max(max_key, lua_tointeger(L, -2));
    } else {
      integer_keys = false;
    }
    lua_pop(L, 1);
  }
  const bool sequence = integer_keys && count > 0 && static_cast<std::uint64_t>(max_key) == count;
  lua_pushvalue(L, index);
  lua_rawget(L, c.marks);
  const bool marked = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);

  c.path_tables.push_back(self);
  const std::size_t path_size = c.path.size();
  bool ok = true;
  if (sequence || (count == 0 && marked)) {
    out = json::array();
    for (std::size_t i = 1; ok && i <= count; ++i) {
      lua_rawgeti(L, index, static_cast<lua_Integer>(i));
      c.path += "/" + std::to_string(i);
      json item;
      ok = spend(c, 1) && convert(c, lua_gettop(L), item, depth + 1);
      out.push_back(std::move(item));
      c.path.resize(path_size);
      lua_pop(L, 1);
    }
  } else {
    out = json::object();
    lua_pushnil(L);
    while (ok && lua_next(L, index) != 0) {
      std::string key;
      switch (lua_type(L, -2)) {
        case LUA_TSTRING: {
          std::size_t len = 0;
          const char* s = lua_tolstring(L, -2, &len);  // a string already: no conversion
          key.assign(s, len);
          if (!valid_utf8(key)) {
            fail(c, "a table key is not valid UTF-8");
            ok = false;
          }
          break;
        }
        case LUA_TNUMBER:
          key = number_key(L, -2);  // never lua_tolstring: it would change the key lua_next needs
          break;
        default:
          fail(c, std::string("a table key of type ") + lua_typename(L, lua_type(L, -2)) +
                      " cannot be a JSON object key");
          ok = false;
      }
      if (ok && out.contains(key)) {
        fail(c, "two keys become the same JSON key \"" + key + "\"");
        ok = false;
      }
      if (ok) {
        c.path += "/" + key;
        json item;
        ok = spend(c, escaped_size(key.data(), key.size()) + 4) &&
             convert(c, lua_gettop(L), item, depth + 1);
        out[key] = std::move(item);
        c.path.resize(path_size);
      }
      lua_pop(L, 1);
    }
    // On failure the key of the loop is left on the stack; to_json restores the top.
  }
  c.path_tables.pop_back();
  return ok;
}

bool convert(to_json_context& c, int index, json& out, int depth) {
  lua_State* L = c.L;
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      out = nullptr;
      return spend(c, 4);
    case LUA_TBOOLEAN:
      out = lua_toboolean(L, index) != 0;
      return spend(c, 5);
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        out = static_cast<std::int64_t>(lua_tointeger(L, index));
      } else {
        const double d = lua_tonumber(L, index);
        if (!std::isfinite(d)) {
          fail(c, "NaN and infinity have no JSON form");
          return false;
        }
        out = d;
      }
      return spend(c, 24);
    case LUA_TSTRING: {
      std::size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      if (!spend(c, escaped_size(s, len) + 2)) {
        return false;
      }
      std::string text(s, len);
      if (!valid_utf8(text)) {
        fail(c, "a string is not valid UTF-8 (JSON text must be)");
        return false;
      }
      out = std::move(text);
      return true;
    }
    case LUA_TLIGHTUSERDATA:
      if (is_null(L, index)) {
        out = nullptr;
        return spend(c, 4);
      }
      break;
    case LUA_TTABLE:
      return convert_table(c, lua_absindex(L, index), out, depth);
    default:
      break;
  }
  fail(c, std::string("a ") + lua_typename(L, lua_type(L, index)) +
              " value cannot be converted to JSON");
  return false;
}

}  // namespace

void push_null(lua_State* L) {
  lua_pushlightuserdata(L, nullptr);
}

bool is_null(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TLIGHTUSERDATA && lua_touserdata(L, index) == nullptr;
}

void push_json(lua_State* L, const json& value, int marks) {
  marks = lua_absindex(L, marks);
  luaL_checkstack(L, 4, "input nested too deeply");
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      push_null(L);
      return;
    case json::value_t::boolean:
      lua_pushboolean(L, value.get<bool>() ? 1 : 0);
      return;
    case json::value_t::number_integer:
      lua_pushinteger(L, static_cast<lua_Integer>(value.get<std::int64_t>()));
      return;
    case json::value_t::number_unsigned: {
      const auto u = value.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<lua_Integer>::max())) {
        lua_pushinteger(L, static_cast<lua_Integer>(u));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(u));
      }
      return;
    }
    case json::value_t::number_float:
      lua_pushnumber(L, value.get<double>());
      return;
    case json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case json::value_t::binary:
      push_null(L);
      return;
    case json::value_t::array: {
      lua_createtable(L, static_cast<int>(std::min<std::size_t>(value.size(), INT32_MAX)), 0);
      lua_Integer i = 0;
      for (const auto& item : value) {
        push_json(L, item, marks);
        lua_rawseti(L, -2, ++i);
      }
      lua_pushvalue(L, -1);
      lua_pushboolean(L, 1);
      lua_rawset(L, marks);
      return;
    }
    case json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(value.size(), INT32_MAX)));
      for (const auto& [k, v] : value.items()) {
        lua_pushlstring(L, k.data(), k.size());
        push_json(L, v, marks);
        lua_rawset(L, -3);
      }
      return;
    }
  }
}

std::optional<conversion_error> to_json(lua_State* L, int index, int marks, std::size_t max_bytes,
                                        json& out) {
  to_json_context c{L, lua_absindex(L, marks), max_bytes, max_bytes, {}, {}, std::nullopt};
  const int top = lua_gettop(L);
  convert(c, lua_absindex(L, index), out, 0);
  lua_settop(L, top);
  return c.error;
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) {
      return false;  // truncated sequence
    }
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace evald::sandbox
