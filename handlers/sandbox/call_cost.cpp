// The cost meter behind evald_cost.h: Lua's patched library and VM report the work
// they do here, so a single C call cannot hold a worker past the burst limit and the
// work it did brings the next count hook (and so the slice's end) closer.
#include "handlers/sandbox/call_cost.hpp"

#include <lstate.h>  // Lua's internals (compiled from source): the hook counter

#include "handlers/sandbox/evald_cost.h"
#include "handlers/sandbox/script_vm.hpp"

namespace evald::sandbox {

int hook_soon(lua_State* L) noexcept {
  if ((L->hookmask & LUA_MASKCOUNT) == 0 || L->hookcount <= 1) {
    return 0;
  }
  // luaG_traceexec runs the count hook when the counter reaches zero: at the next
  // instruction now. What was left of the period was never executed.
  const int skipped = L->hookcount - 1;
  L->hookcount = 1;
  return skipped;
}

int instructions_into_period(lua_State* L) noexcept {
  if ((L->hookmask & LUA_MASKCOUNT) == 0) {
    return 0;
  }
  return L->basehookcount - L->hookcount;
}

}  // namespace evald::sandbox

namespace {
evald::sandbox::script_vm* meter_of(lua_State* L) {
  return *static_cast<evald::sandbox::script_vm**>(lua_getextraspace(L));
}
}  // namespace

void evald_work(lua_State* L, std::size_t units, const char* what) {
  if (auto* vm = meter_of(L); vm != nullptr) {
    vm->work(L, units, what);
  }
}

void evald_charge(lua_State* L, std::size_t units) {
  if (auto* vm = meter_of(L); vm != nullptr) {
    vm->charge(units);
  }
}
