#include "handlers/script_runner.hpp"

#include "handlers/script_request.hpp"
#include "server/metrics.hpp"

namespace evald {
namespace {

using json = nlohmann::json;
using sandbox::script_failure;

// A state that grew this much past its compiled size is closed rather than reused:
// closing is cheaper than a full collection, and the next input starts small.
constexpr std::size_t reuse_growth_limit = 256 * 1024;

script_outcome outcome_of(const std::optional<script_failure>& f) {
  if (!f) {
    return script_outcome::ok;
  }
  switch (f->what) {
    case script_failure::kind::syntax:
      return script_outcome::syntax;
    case script_failure::kind::memory:
      return script_outcome::memory;
    case script_failure::kind::burst:
    case script_failure::kind::stopped:
      return script_outcome::burst;
    case script_failure::kind::result:
      return script_outcome::result;
    case script_failure::kind::result_too_large:
      return script_outcome::too_large;
    case script_failure::kind::runtime:
      break;
  }
  return script_outcome::error;
}

}  // namespace

bool script_runner::run(const eval_item& item, parallel_job& job,
                        std::chrono::steady_clock::time_point slice_end, bool detailed,
                        std::string& out, std::optional<script_failure>& failure) {
  task_state& t = tasks_.at(parallel_job::current_task());
  auto& vm = t.vm;
  if (!t.running) {
    const bool fits = vm && t.spec == item.script.get() &&
                      (!vm->compiled() ||
                       (vm->reusable() && vm->memory_used() <= t.baseline + reuse_growth_limit));
    if (!fits) {
      vm.reset();
      vm = std::make_unique<sandbox::script_vm>(*item.script->source, item.script->limits);
      t.spec = item.script.get();
      t.baseline = vm->memory_used();
    }
    if (vm->compiled()) {
      vm->on_progress = nullptr;
      if (detailed) {
        vm->on_progress = [&job](double f) { job.report_progress(f); };
      }
      vm->start(item.input);
    }
    t.running = !vm->failure();
  }
  if (t.running) {
    if (vm->resume(slice_end, &job.stop_flag()) == sandbox::script_vm::step::yielded) {
      return false;
    }
    t.running = false;
  }
  failure = vm->failure();
  parallel_job::current_metrics().scripts[static_cast<std::size_t>(outcome_of(failure))].add();
  if (failure) {
    out = script_error_json(*failure);
    return true;
  }
  json slot = json::object();
  slot["result"] = std::move(vm->result());
  if (detailed) {
    const auto st = vm->stats();
    slot["stats"] = {{"instructions", st.instructions},
                     {"memory_peak", st.memory_peak},
                     {"cpu_ms", static_cast<double>(st.cpu.count()) / 1e6}};
  }
  if (!vm->log().empty() || vm->log_truncated()) {
    slot["log"] = vm->log();
    if (vm->log_truncated()) {
      slot["log_truncated"] = true;
    }
  }
  out = slot.dump(-1, ' ', false, json::error_handler_t::replace);
  return true;
}

}  // namespace evald
