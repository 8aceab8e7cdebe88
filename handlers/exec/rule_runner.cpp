#include "handlers/exec/rule_runner.hpp"

#include <charconv>
#include <unordered_map>

#include "handlers/request/script_request.hpp"
#include "server/metrics.hpp"

namespace evald {

using json = nlohmann::json;
using sandbox::script_failure;

// One Lua state and the conditions compiled in it, keyed by their text.
struct rule_state {
  struct compiled {
    int ref = -1;
    std::optional<script_failure> failure;  // a text that does not compile, remembered
    std::uint64_t used = 0;
  };
  explicit rule_state(const sandbox::script_limits& limits) : vm(limits, sandbox::host_api::rule) {}

  sandbox::script_vm vm;
  std::unordered_map<std::string, compiled> cache;
  std::uint64_t tick = 0;

  const compiled& compile(const std::string& text, std::size_t max_entries) {
    ++tick;
    if (auto it = cache.find(text); it != cache.end()) {
      it->second.used = tick;
      return it->second;
    }
    if (cache.size() >= max_entries) {
      // The least recently used goes (a scan: it happens once per miss past the bound).
      const std::string* oldest = nullptr;
      std::uint64_t oldest_used = UINT64_MAX;
      int oldest_ref = -1;
      for (const auto& [key, entry] : cache) {
        if (entry.used < oldest_used) {
          oldest = &key;
          oldest_used = entry.used;
          oldest_ref = entry.ref;
        }
      }
      if (oldest != nullptr) {
        vm.unload(oldest_ref);
        cache.erase(std::string(*oldest));
      }
    }
    compiled c;
    script_failure why{};
    c.ref = vm.load(text, true, why);
    if (c.ref < 0) {
      c.failure = std::move(why);
    }
    c.used = tick;
    return cache.emplace(text, std::move(c)).first->second;
  }
};

record_progress::record_progress() = default;
record_progress::~record_progress() = default;

namespace {

// Idle rule states of this worker (thread_local is the worker's own storage: only
// worker threads run chunks, and an idle state is touched by no other thread).
constexpr std::size_t idle_states = 2;
thread_local std::vector<std::unique_ptr<rule_state>> idle;

std::unique_ptr<rule_state> take_state(const sandbox::script_limits& limits) {
  while (!idle.empty()) {
    auto s = std::move(idle.back());
    idle.pop_back();
    if (s->vm.limits() == limits) {
      return s;
    }
  }
  return std::make_unique<rule_state>(limits);
}

void give_back(std::unique_ptr<rule_state> s) {
  // A state that grew past half its cap (a large cache, or garbage a condition left)
  // is closed: the next record starts a small one.
  if (!s || !s->vm.ready() || s->vm.memory_used() > s->vm.limits().memory_bytes / 2 ||
      idle.size() >= idle_states) {
    return;
  }
  idle.push_back(std::move(s));
}

enum class counted { is_true, is_false, failed };

void count(counted c) {
  auto& m = parallel_job::current_metrics();
  m.conditions_evaluated.add();
  if (c == counted::is_true) {
    m.conditions_true.add();
  } else if (c == counted::failed) {
    m.conditions_failed.add();
  }
}

bool within_time(const detector_record& r, const detector_condition& c) {
  std::int64_t elapsed = 0;
  if (__builtin_sub_overflow(r.processing_time, r.state_time, &elapsed)) {
    // Beyond 64 bits: hugely negative is within any range, hugely positive in none.
    return r.processing_time < r.state_time;
  }
  return elapsed <= c.time_range;
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

bool order_found(const std::vector<std::int64_t>& order, const std::vector<std::int64_t>& earlier,
                 const std::vector<std::int64_t>& now) {
  const std::size_t total = earlier.size() + now.size();
  const std::size_t m = order.size();
  if (m == 0) {
    return true;
  }
  if (m > total) {
    return false;
  }
  // Knuth-Morris-Pratt: linear in both lengths. The naive scan was O(n·m): a 1 MB
  // body (390k true conditions, an order of 130k) held a worker for 36 s.
  std::vector<std::size_t> fallback(m, 0);
  for (std::size_t i = 1, k = 0; i < m; ++i) {
    while (k > 0 && order[i] != order[k]) {
      k = fallback[k - 1];
    }
    if (order[i] == order[k]) {
      ++k;
    }
    fallback[i] = k;
  }
  std::size_t k = 0;
  const auto step = [&](std::int64_t v) {
    while (k > 0 && v != order[k]) {
      k = fallback[k - 1];
    }
    if (v == order[k]) {
      ++k;
    }
    return k == m;
  };
  for (const auto v : earlier) {
    if (step(v)) {
      return true;
    }
  }
  for (const auto v : now) {
    if (step(v)) {
      return true;
    }
  }
  return false;
}

rule_runner::rule_runner(const config::settings& settings)
    : limits_(configured_script_limits(settings)),
      condition_time_(settings.scripts.condition_time),
      cache_entries_(settings.scripts.condition_cache) {}

bool rule_runner::run(const detector_record& r, std::unique_ptr<record_progress>& progress,
                      parallel_job& job, std::chrono::steady_clock::time_point slice_end,
                      std::string& out, std::optional<rule_failure>& failure) const {
  if (!progress) {
    progress = std::make_unique<record_progress>();
    if (!r.launch) {
      progress->context = r.context;
    }
  }
  record_progress& p = *progress;
  const auto fail = [&](script_failure f, std::optional<std::int64_t> numeration,
                        bool timeout = false) {
    failure = rule_failure{std::move(f), numeration, timeout};
    count(counted::failed);
    p.running = false;
    give_back(std::move(p.state));
    progress.reset();
    return true;
  };
  const std::size_t steps = r.launch ? 1 : r.conditions.size();
  while (p.next < steps) {
    const detector_condition* c = r.launch ? nullptr : &r.conditions[p.next];
    const std::optional<std::int64_t> numeration =
        c ? std::optional<std::int64_t>(c->numeration) : std::nullopt;
    if (!p.running) {
      if (p.next > 0 && std::chrono::steady_clock::now() >= slice_end) {
        return false;  // between conditions: the record goes on next slice
      }
      if (c && c->type == condition_type::order) {
        const bool found = order_found(c->order, r.true_conditions, p.found);
        if (found) {
          p.found.push_back(c->numeration);
        }
        count(found ? counted::is_true : counted::is_false);
        ++p.next;
        continue;
      }
      if (!p.state || !p.state->vm.ready()) {
        p.state = take_state(limits_);
        if (!p.state->vm.ready()) {
          return fail(*p.state->vm.failure(), numeration);
        }
      }
      const auto& compiled = p.state->compile(c ? c->text : r.launch_condition, cache_entries_);
      if (compiled.failure) {
        return fail(*compiled.failure, numeration);
      }
      if (c && c->type == condition_type::timed && !within_time(r, *c)) {
        count(counted::is_false);  // out of its time range: the body is not run
        ++p.next;
        continue;
      }
      p.state->vm.start_rule(compiled.ref,
                             {&r.log, r.text, r.launch ? nullptr : &p.context, r.launch});
      if (const auto& f = p.state->vm.failure()) {
        return fail(*f, numeration);
      }
      p.running = true;
    }
    auto& vm = p.state->vm;
    if (vm.resume(slice_end, &job.stop_flag()) == sandbox::script_vm::step::yielded) {
      if (vm.stats().cpu >= condition_time_) {
        vm.abandon();  // parked at a yield and never resumed: the state itself is sound
        return fail(
            script_failure{script_failure::kind::runtime,
                           {},
                           "ran longer than scripts.condition_time (" +
                               std::to_string(condition_time_.count() / 1'000'000) + " ms of CPU)"},
            numeration, true);
      }
      return false;
    }
    p.running = false;
    if (const auto& f = vm.failure()) {
      return fail(*f, numeration);
    }
    if (r.launch) {
      count(vm.launched() ? counted::is_true : counted::is_false);
      ++p.next;
      continue;
    }
    if (vm.truthy()) {
      json data;
      if (auto f = vm.take_data(data)) {
        return fail(std::move(*f), numeration);
      }
      p.context = std::move(data);
      p.found.push_back(c->numeration);
      count(counted::is_true);
    } else {
      count(counted::is_false);
    }
    ++p.next;
  }

  if (r.launch) {
    const auto& vm = p.state->vm;
    if (vm.launched()) {
      nlohmann::ordered_json answer;
      answer["condition"] = r.launch_condition;
      answer["launch"] = true;
      answer["context"] = p.state->vm.launch_context();
      out = answer.dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      out = R"({"launch":false})";
    }
  } else {
    out.assign(R"({"trueConditions":[)");
    for (std::size_t i = 0; i < p.found.size(); ++i) {
      if (i > 0) {
        out.push_back(',');
      }
      append_int(out, p.found[i]);
    }
    out.append(R"(],"context":)");
    out += p.context.dump(-1, ' ', false, json::error_handler_t::replace);
    out.push_back('}');
  }
  give_back(std::move(p.state));
  progress.reset();
  return true;
}

}  // namespace evald
