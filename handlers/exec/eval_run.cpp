// Running a read /eval request on the workers: the body read as a compute task, and
// the items planned into chunks and computed over every worker.
#include "handlers/exec/eval_run.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <span>

#include "handlers/exec/item_results.hpp"
#include "handlers/exec/parallel_trial.hpp"
#include "handlers/exec/rule_runner.hpp"
#include "handlers/exec/script_runner.hpp"
#include "handlers/request/script_request.hpp"
#include "server/http_error.hpp"
#include "server/parallel.hpp"
#include "server/worker.hpp"

namespace evald {

namespace {

// Bytes read between two looks at the clock: about 50-100 µs of decoding or checking.
constexpr std::size_t read_step = 8 * 1024;

struct sliced_read {
  sliced_read(std::string_view body, const config::settings& settings, bool launch_route)
      : reader(body, settings, launch_route) {}
  eval_body_reader reader;
  std::exception_ptr error;
  bool read = false;
};

}  // namespace

net::awaitable<eval_request> read_eval_body(worker& w, std::string_view body,
                                            const config::settings& settings, bool launch_route) {
  if (body.size() <= read_step) {
    co_return parse_eval_body(body, settings, launch_route);
  }
  // A big body (a batch) is read as a compute task: decoded and its items checked
  // a slice at a time behind this worker's I/O, so its other connections wait a
  // slice at most, not the whole megabyte (about 15 ms in one piece).
  auto state = std::make_shared<sliced_read>(body, settings, launch_route);
  auto job = make_parallel_job(
      1,
      [state](std::uint64_t, parallel_job&, std::chrono::steady_clock::time_point slice_end) {
        if (!state->read) {
          try {
            while (!state->reader.advance(read_step)) {
              if (std::chrono::steady_clock::now() >= slice_end) {
                return false;
              }
            }
          } catch (...) {
            state->error = std::current_exception();
          }
          state->read = true;
        }
        // Then what is left of the trees (a failed decode's, a rejected batch's).
        while (!state->reader.discard(read_step)) {
          if (std::chrono::steady_clock::now() >= slice_end) {
            return false;
          }
        }
        return true;
      },
      settings.eval.slice);
  const auto first_slice_end = std::chrono::steady_clock::now() + settings.eval.slice;
  if (!job->try_inline(first_slice_end, w.metrics())) {
    worker* const self = &w;
    const std::span<worker* const> here(&self, 1);
    co_await job->run(here);
  }
  if (state->error) {
    std::rethrow_exception(state->error);
  }
  co_return state->reader.take();
}

net::awaitable<std::string> run_eval_request(evaluation& ev, const config::settings& settings,
                                             const eval_request& er) {
  if (!er.batch && er.items.front().what == eval_item::kind::prime_trial) {
    // One trial workload: the cooperative parallel version, as GET /prime does.
    const trial_outcome t = co_await parallel_trial_division(ev, settings, er.items.front().n);
    std::string out;
    append_trial_json(out, er.items.front().n, t);
    co_return out;
  }
  const std::size_t count = er.items.size();
  // Chunk boundaries: `chunk` items each when given, otherwise consecutive items
  // until their estimated cost reaches eval.chunk_time (heavy items stand alone).
  std::vector<std::size_t> bounds{0};
  if (er.chunk) {
    for (std::size_t i = *er.chunk; i < count; i += *er.chunk) {
      bounds.push_back(i);
    }
  } else {
    const double target = static_cast<double>(settings.eval.chunk_time.count()) * 1000.0;
    const double per_candidate = trial_ns_per_candidate();
    double acc = 0;
    for (std::size_t i = 0; i < count; ++i) {
      acc += estimate_eval_item_ns(er.items[i], per_candidate);
      if (acc >= target && i + 1 < count) {
        bounds.push_back(i + 1);
        acc = 0;
      }
    }
  }
  bounds.push_back(count);
  const std::uint64_t chunks = count == 0 ? 0 : bounds.size() - 1;

  // Progress of a chunk that yielded mid-way: only the task running chunk c
  // touches states[c], so no locking.
  struct chunk_state {
    std::size_t next_item = 0;
    std::optional<kernels::trial_division> trial;
    std::unique_ptr<record_progress> record;
  };
  auto results = std::make_shared<std::vector<std::string>>(count);
  auto failures = std::make_shared<std::vector<std::optional<sandbox::script_failure>>>(count);
  auto states = std::make_shared<std::vector<std::unique_ptr<chunk_state>>>(chunks);
  auto scripts = std::make_shared<script_runner>(ev.workers(), settings.scripts.reuse_states);
  auto rule_failures =
      std::make_shared<std::vector<std::optional<rule_failure>>>(er.detector ? count : 0);
  auto rules = std::make_shared<const rule_runner>(settings);
  // The whole answer's size, counted as items finish on any worker: past
  // limits.max_response_size the job stops and the answer is a 413 naming the item
  // (100 inputs of 1 MB each made a 100 MB answer before).
  struct answer_budget {
    std::uint64_t limit;
    std::atomic<std::uint64_t> used{0};
    std::atomic<std::size_t> crossed{SIZE_MAX};
  };
  auto budget = std::make_shared<answer_budget>();
  budget->limit = settings.limits.max_response_bytes;
  auto job = make_parallel_job(
      chunks,
      [&items = er.items, results, failures, rule_failures, states, scripts, rules, bounds, budget,
       detailed = !er.batch](std::uint64_t c, parallel_job& j,
                             std::chrono::steady_clock::time_point slice_end) {
        auto& state = (*states)[c];
        std::size_t i = state ? state->next_item : bounds[c];
        const auto account = [&](std::size_t item) {
          const std::uint64_t bytes = (*results)[item].size() + 1;
          if (budget->used.fetch_add(bytes, std::memory_order_relaxed) + bytes > budget->limit) {
            std::size_t seen = budget->crossed.load(std::memory_order_relaxed);
            while (item < seen && !budget->crossed.compare_exchange_weak(seen, item)) {
            }
            (*results)[item].clear();
            (*results)[item].shrink_to_fit();
            j.request_stop();
          }
        };
        // The increment accounts for the item just finished (after a `continue` too;
        // not when the chunk yields mid-item).
        for (; i < bounds[c + 1]; account(i), ++i) {
          if (items[i].what == eval_item::kind::record) {
            if (!state) {
              state = std::make_unique<chunk_state>();
            }
            if (!rules->run(*items[i].record, state->record, j, slice_end, (*results)[i],
                            (*rule_failures)[i])) {
              state->next_item = i;  // the same record continues next slice
              return false;
            }
            if (const auto& f = (*rule_failures)[i]) {
              (*results)[i] = rule_error_json(*f);
            }
            continue;
          }
          if (items[i].what == eval_item::kind::script) {
            if (!scripts->run(items[i], j, slice_end, detailed, (*results)[i], (*failures)[i])) {
              if (!state) {
                state = std::make_unique<chunk_state>();
              }
              state->next_item = i;  // the same input continues next slice
              return false;
            }
            continue;
          }
          if (items[i].what != eval_item::kind::prime_trial) {
            (*results)[i] = compute_eval_item(items[i]);
            continue;
          }
          // Trial division can take seconds: run it in steps that watch the slice
          // and the stop flag, keeping its progress across yields.
          if (!state) {
            state = std::make_unique<chunk_state>();
          }
          if (!state->trial) {
            state->trial.emplace(items[i].n);
          }
          while (!state->trial->step(1 << 16)) {
            if (j.stop_requested() || std::chrono::steady_clock::now() >= slice_end) {
              state->next_item = i;
              return false;
            }
          }
          (*results)[i] = trial_item_json(items[i].n, *state->trial);
          state->trial.reset();
        }
        state.reset();
        return true;
      },
      settings.eval.slice);
  // A single script or record usually ends within microseconds: try it on this
  // thread first.
  const bool single_script = !er.batch && (er.items.front().what == eval_item::kind::script ||
                                           er.items.front().what == eval_item::kind::record);
  bool over_budget = false;
  if (!single_script || !ev.try_inline(*job)) {
    try {
      co_await ev.run(job);
    } catch (const http_error&) {
      if (budget->crossed.load() == SIZE_MAX) {
        throw;
      }
      over_budget = true;  // the stop was ours: the 413 below says why
    }
  }
  if (budget->crossed.load() != SIZE_MAX || over_budget) {
    results->clear();
    results->shrink_to_fit();
    http_error e(http::status::payload_too_large, "response_too_large",
                 "the answer would be larger than limits.max_response_size (" +
                     std::to_string(settings.limits.max_response_bytes) + " bytes): item " +
                     std::to_string(budget->crossed.load()) + " crossed it");
    e.server_timing = ev.server_timing();
    throw e;
  }

  if (!er.batch) {
    if (er.detector && rule_failures->front()) {
      http_error e = rule_http_error(*rule_failures->front());
      e.server_timing = ev.server_timing();
      throw e;
    }
    if (const auto& f = failures->front()) {
      http_error e = script_http_error(*f);
      e.server_timing = ev.server_timing();
      throw e;
    }
    co_return std::move(results->front());
  }
  std::size_t failed = 0;
  std::string out = R"({"results":[)";
  for (std::size_t i = 0; i < count; ++i) {
    out += (i ? "," : "");
    out += (*results)[i];
    failed += er.items[i].what == eval_item::kind::invalid || (*failures)[i] ||
                      (er.detector && (*rule_failures)[i])
                  ? 1
                  : 0;
  }
  char summary[256];
  std::snprintf(
      summary, sizeof summary,
      R"(],"summary":{"items":%zu,"ok":%zu,"failed":%zu,"chunks":%llu,"workers":%u,"wall_ms":%.3f,"cpu_ms":%.3f}})",
      count, count - failed, failed, static_cast<unsigned long long>(chunks), job->tasks(),
      static_cast<double>(ev.wall().count()) / 1e6, static_cast<double>(ev.cpu().count()) / 1e6);
  out += summary;
  co_return out;
}

}  // namespace evald
