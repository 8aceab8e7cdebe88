#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handlers/request/eval_item.hpp"
#include "handlers/sandbox/script_vm.hpp"
#include "server/parallel.hpp"

namespace evald {

// The Lua states of one request's parallel job: one per task (a task is one
// worker's share of the job and runs one chunk at a time, so no lock). A state is
// compiled once and reused for the next input of the same script, each input in a
// fresh environment; a state that hit its memory cap, was killed or grew is closed
// and a new one compiled. With `reuse` (scripts.reuse_states), a state that ended
// cleanly goes back to its worker's small cache of compiled states, where the next
// evaluation of the same source and limits on that worker finds it. A state
// stopped mid-run is never resumed, only closed with the job (yield-and-drop).
class script_runner {
 public:
  script_runner(std::size_t tasks, bool reuse) : tasks_(tasks), reuse_(reuse) {}

  // Runs script item `item` for one slice in the calling task's state. Returns false
  // if it yielded (call again with the same item next slice); true when it ended:
  // `out` then holds the slot's JSON, and `failure` the failure if it failed.
  // `detailed` adds stats and the log (a single evaluation rather than a map slot).
  bool run(const eval_item& item, parallel_job& job,
           std::chrono::steady_clock::time_point slice_end, bool detailed, std::string& out,
           std::optional<sandbox::script_failure>& failure);

 private:
  struct task_state {
    const script_spec* spec = nullptr;
    std::unique_ptr<sandbox::script_vm> vm;
    std::size_t baseline = 0;  // bytes after compiling: the state's size when idle
    bool running = false;
  };
  std::vector<task_state> tasks_;
  bool reuse_;
};

}  // namespace evald
