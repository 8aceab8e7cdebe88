#include "handlers/exec/script_runner.hpp"

#include <charconv>

#include "handlers/request/script_request.hpp"
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

// Each worker's compiled states, most recently used last. thread_local is the
// worker's own storage here: only worker threads run chunk functions, and a state
// in this cache is touched by no other thread.
struct cached_state {
  std::shared_ptr<const std::string> source;
  std::size_t hash = 0;
  std::unique_ptr<sandbox::script_vm> vm;
  std::size_t baseline = 0;
};
constexpr std::size_t cache_entries = 16;
thread_local std::vector<cached_state> worker_cache;

std::optional<cached_state> take_cached(const script_spec& spec) {
  for (auto it = worker_cache.rbegin(); it != worker_cache.rend(); ++it) {
    if (it->hash == spec.source_hash && it->vm->limits() == spec.limits &&
        (it->source == spec.source || *it->source == *spec.source)) {
      cached_state found = std::move(*it);
      worker_cache.erase(std::next(it).base());
      return found;
    }
  }
  return std::nullopt;
}

void give_back(const script_spec& spec, std::unique_ptr<sandbox::script_vm> vm,
               std::size_t baseline) {
  if (!vm->reusable() || vm->memory_used() > baseline + reuse_growth_limit) {
    return;  // closed here
  }
  worker_cache.push_back(cached_state{spec.source, spec.source_hash, std::move(vm), baseline});
  if (worker_cache.size() > cache_entries) {
    worker_cache.erase(worker_cache.begin());
  }
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
      if (reuse_) {
        if (auto cached = take_cached(*item.script)) {
          vm = std::move(cached->vm);
          t.baseline = cached->baseline;
        }
      }
      if (!vm) {
        vm = std::make_unique<sandbox::script_vm>(*item.script->source, item.script->limits);
        t.baseline = vm->memory_used();
      }
      t.spec = item.script.get();
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
    if (reuse_ && vm->compiled()) {
      give_back(*item.script, std::move(vm), t.baseline);
    }
    return true;
  }
  // Written by hand around the result's own dump: building a JSON object for three
  // fields cost more than running a tiny script.
  out.assign(R"({"result":)");
  out += vm->result().dump(-1, ' ', false, json::error_handler_t::replace);
  if (detailed) {
    const auto st = vm->stats();
    char buf[64];
    out.append(R"(,"stats":{"instructions":)");
    out.append(buf, std::to_chars(buf, buf + sizeof buf, st.instructions).ptr);
    // In 64 KiB steps: a state serves several runs, and the exact peak told whether an
    // earlier run had interned a given string (35 of 37 guesses were right).
    constexpr std::size_t step = 64 * 1024;
    const std::size_t coarse_peak = (st.memory_peak + step - 1) / step * step;
    out.append(R"(,"memory_peak":)");
    out.append(buf, std::to_chars(buf, buf + sizeof buf, coarse_peak).ptr);
    out.append(R"(,"cpu_ms":)");
    out.append(buf, std::to_chars(buf, buf + sizeof buf, static_cast<double>(st.cpu.count()) / 1e6,
                                  std::chars_format::fixed, 4)
                        .ptr);
    out.push_back('}');
  }
  if (!vm->log().empty() || vm->log_truncated()) {
    out.append(R"(,"log":)");
    out += json(vm->log()).dump(-1, ' ', false, json::error_handler_t::replace);
    if (vm->log_truncated()) {
      out.append(R"(,"log_truncated":true)");
    }
  }
  out.push_back('}');
  if (reuse_) {
    give_back(*item.script, std::move(vm), t.baseline);
  }
  return true;
}

}  // namespace evald
