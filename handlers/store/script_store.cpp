#include "handlers/store/script_store.hpp"

#include "handlers/request/eval_request.hpp"

namespace evald {

net::awaitable<void> resolve_named_scripts(eval_request& er, script_store& scripts,
                                           std::string tenant) {
  if (er.script_names.empty()) {
    co_return;
  }
  const auto catalog = co_await scripts.current();
  bind_named_scripts(er, *catalog, tenant);
}

}  // namespace evald
