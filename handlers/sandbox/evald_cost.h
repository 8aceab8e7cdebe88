/* evald: the cost meter that Lua's library and VM call, through our patch
   (lua-containment.patch); the functions are in call_cost.cpp. Included by
   Debian's Lua sources, which evald compiles as C++. A unit is about one
   nanosecond of work on the reference machine: the figures only decide how
   often the clock is read and how soon the next count hook runs, never
   whether a call may finish. */
#ifndef EVALD_COST_H
#define EVALD_COST_H

#include <stddef.h>

struct lua_State;

/* Work a library call did: every so often reads the clock and, once the
   slice's end plus the burst limit has passed (or the host asked the run to
   stop), raises an error naming the call. Call only where a Lua error may be
   raised. */
void evald_work(struct lua_State *L, size_t units, const char *what);

/* Work the VM did (long-string comparisons and concatenations): brings the
   next count hook closer; never raises. */
void evald_charge(struct lua_State *L, size_t units);

#define EVALD_COST_ELEMENT 20 /* a table read and write, a push, a compare */
#define EVALD_COST_CHAR 2     /* a byte handled one at a time */
#define EVALD_COST_STEP 10    /* a pattern matcher step */
#define EVALD_COST_COPY(n) ((size_t)(n) / 4 + 1) /* bytes copied or compared */

/* Strings longer than this are not numerals (strtod's cost grows with the
   digits, and every arithmetic coercion would pay it again). */
#define EVALD_MAX_NUMERAL 1024

/* In a loop over i: charge 1024 iterations at once, every 1024 iterations. */
#define EVALD_WORK_EVERY(L, i, unit, what)                   \
  {                                                          \
    if ((((size_t)(i)) & 1023) == 0)                         \
      evald_work((L), 1024 * (size_t)(unit), (what));        \
  }

#endif
