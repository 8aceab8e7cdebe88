#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <span>

#include "handlers/detector_request.hpp"
#include "handlers/endpoints.hpp"
#include "handlers/eval_item.hpp"
#include "handlers/eval_request.hpp"
#include "handlers/evaluation.hpp"
#include "handlers/json_keys.hpp"
#include "handlers/parallel_trial.hpp"
#include "handlers/params.hpp"
#include "handlers/routes.hpp"
#include "handlers/rule_runner.hpp"
#include "handlers/script_request.hpp"
#include "handlers/script_runner.hpp"
#include "handlers/store/backend.hpp"
#include "server/ascii.hpp"
#include "server/http_error.hpp"
#include "server/json_text.hpp"
#include "server/parallel.hpp"
#include "server/worker.hpp"

namespace evald {

using json = nlohmann::json;

namespace {

bool is_json_content_type(std::string_view ct) {
  const auto semi = ct.find(';');
  std::string_view type = ct.substr(0, semi);
  while (!type.empty() && type.back() == ' ') {
    type.remove_suffix(1);
  }
  return equals_ignoring_case(type, "application/json");
}

// Records a batch item's script name (each name once: a batch names a few at most).
void note_script_name(eval_request& er, const eval_item& item) {
  if (item.what != eval_item::kind::script || item.script->name.empty()) {
    return;
  }
  const auto& name = item.script->name;
  if (std::find(er.script_names.begin(), er.script_names.end(), name) == er.script_names.end()) {
    er.script_names.push_back(name);
  }
}

}  // namespace

void bind_named_scripts(eval_request& er, const script_catalog& catalog) {
  // A map's inputs share one spec: bound once, still shared.
  std::vector<std::pair<const script_spec*, std::shared_ptr<const script_spec>>> bound;
  for (std::size_t i = 0; i < er.items.size(); ++i) {
    auto& item = er.items[i];
    if (item.what != eval_item::kind::script || item.script->source) {
      continue;
    }
    const auto seen = std::find_if(bound.begin(), bound.end(),
                                   [&](const auto& b) { return b.first == item.script.get(); });
    if (seen != bound.end()) {
      item.script = seen->second;
      continue;
    }
    const script_entry* entry = catalog.find(item.script->name);
    if (entry == nullptr) {
      http_error missing = script_not_found(item.script->name);
      if (!er.batch || er.script_map) {
        throw missing;
      }
      missing.full_message = "items/" + std::to_string(i) + ": " + missing.message();
      item.what = eval_item::kind::invalid;
      item.failure = std::move(missing);
      item.script.reset();
      continue;
    }
    auto spec = std::make_shared<script_spec>(*item.script);
    spec->source = entry->source;
    spec->source_hash = std::hash<std::string>{}(*spec->source);
    bound.emplace_back(item.script.get(), spec);
    item.script = std::move(spec);
  }
}

namespace {

// Bytes read between two looks at the clock: about 50-100 µs of decoding or checking.
constexpr std::size_t read_step = 8 * 1024;

// glibc keeps freed small blocks aside ("fast bins") and merges them all at the next
// large allocation, wherever that is: after a batch's trees are freed item by item, the
// merge of every block came in one stretch (19 ms for 100,000 items, bench_eval_parse).
// A large allocation after each step merges that step's blocks in the step.
void merge_freed_blocks() {
  void* volatile block = std::malloc(4096);  // volatile: the pair must not be elided
  std::free(block);
}

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

net::awaitable<eval_request> parse_eval_request(request_context& ctx, bool launch_route) {
  const auto ct = ctx.req[http::field::content_type];
  if (!is_json_content_type(std::string_view(ct.data(), ct.size()))) {
    throw http_error(http::status::unsupported_media_type, "unsupported_media_type",
                     "Content-Type must be application/json");
  }
  // ?timeout_ms= works as on the GET endpoints (the smaller one wins when the body
  // has one too); any other query parameter is a 400, not silently ignored.
  check_query_params(ctx.query, {"timeout_ms"});
  const auto query_timeout = timeout_param(ctx.query);
  eval_request er = co_await read_eval_body(ctx.owner, ctx.req.body(), ctx.settings, launch_route);
  if (query_timeout) {
    er.timeout_ms = std::min(er.timeout_ms.value_or(*query_timeout), *query_timeout);
  }
  co_return er;
}

eval_body_decoder::eval_body_decoder(std::string_view body)
    : body_(body), parser_(std::make_unique<json_incremental_parser>(body, max_depth)) {}

eval_body_decoder::~eval_body_decoder() = default;

bool eval_body_decoder::advance(std::size_t bytes) {
  try {
    return step(bytes);
  } catch (...) {
    leftovers_ = parser_->take();  // the tree the failed pass built so far
    throw;
  }
}

bool eval_body_decoder::step(std::size_t bytes) {
  if (done_) {
    return true;
  }
  try {
    if (!parser_->advance(bytes)) {
      return false;
    }
  } catch (const json_too_deep& e) {
    if (!repairing()) {
      throw bad_request(e.what());
    }
    throw bad_request(first_error_);
  } catch (const json::parse_error& e) {
    if (repairing()) {
      throw bad_request(first_error_);
    }
    first_error_ = "malformed JSON at byte " + std::to_string(e.byte) + ": " +
                   std::string(e.what()).substr(std::string(e.what()).find(':') + 2);
    // A log record's text may carry bytes that are not UTF-8 (a raw byte, or an
    // unpaired surrogate escape from Python): for the Log Detector contract they are
    // data, and become U+FFFD; every other body stays strict.
    // Only a byte or an escape that is not Unicode can be repaired: any other first
    // error would stay where it is (and the scan of a megabyte is not free).
    const std::string_view what(e.what());
    if (what.find("UTF-8") == std::string_view::npos &&
        what.find("surrogate") == std::string_view::npos) {
      throw bad_request(first_error_);
    }
    repaired_ = replace_invalid_unicode_in_strings(body_);
    if (!repaired_) {
      throw bad_request(first_error_);
    }
    leftovers_ = parser_->take();
    parser_ = std::make_unique<json_incremental_parser>(*repaired_, max_depth);
    return false;
  } catch (const duplicate_json_key& e) {
    // Duplicate keys are ambiguous (which "n" did the client mean?): reject them.
    throw bad_request(repairing() ? first_error_ : std::string(e.what()));
  } catch (const json::exception& e) {
    // e.g. out_of_range for a number like 6e666 (found by fuzz_eval_json).
    throw bad_request(repairing() ? first_error_
                                  : "unusable JSON: " + std::string(e.what()).substr(
                                                            std::string(e.what()).find(']') + 2));
  }
  value_ = parser_->take();
  if (repairing() && !is_detector_body(value_)) {
    throw bad_request(first_error_);  // only a Log Detector body may be repaired
  }
  done_ = true;
  return true;
}

json eval_body_decoder::take() {
  return std::move(value_);
}

eval_request parse_eval_body(std::string_view body, const config::settings& settings,
                             bool launch_route) {
  eval_body_reader reader(body, settings, launch_route);
  while (!reader.advance(SIZE_MAX)) {
  }
  return reader.take();
}

eval_request interpret_eval_body(json& j, const config::settings& settings, bool launch_route,
                                 json** deferred_items) {
  if (deferred_items != nullptr) {
    *deferred_items = nullptr;
  }
  if (!j.is_object()) {
    throw bad_request("the body must be a JSON object");
  }
  if (is_detector_body(j)) {
    return parse_detector_body(j, launch_route, settings, deferred_items);
  }
  eval_request out;
  if (const auto t = j.find("timeout_ms"); t != j.end()) {
    if (!t->is_number_unsigned() || t->get<std::uint64_t>() == 0) {
      throw bad_request("timeout_ms must be a positive integer");
    }
    out.timeout_ms = t->get<std::uint64_t>();
  }
  const script_context script_ctx{settings};
  if (const auto w = j.find("workload"); w != j.end() && *w == "script") {
    // A script alone, or mapped over "inputs" (a batch of one spec, input order kept).
    const bool map = j.contains("inputs");
    for (const auto& [key, _] : j.items()) {
      if (key != "workload" && key != "source" && key != "script" && key != "limits" &&
          key != "timeout_ms" && key != (map ? "inputs" : "input") && key != "chunk") {
        throw bad_request("unknown field \"" + key +
                          "\" (allowed: workload, source, script, limits, timeout_ms, " +
                          (map ? "inputs, chunk)" : "input)"));
      }
    }
    if (!map && j.contains("chunk")) {
      throw bad_request("chunk applies to a map over inputs only");
    }
    auto spec = parse_script_spec(j, settings);
    if (!spec->name.empty()) {
      out.script_names.push_back(spec->name);
    }
    if (!map) {
      eval_item item;
      item.what = eval_item::kind::script;
      item.script = std::move(spec);
      item.input = j.contains("input") ? j["input"] : json(nullptr);
      out.items.push_back(std::move(item));
      return out;
    }
    auto& inputs = j["inputs"];
    if (!inputs.is_array()) {
      throw bad_request("inputs must be an array");
    }
    if (inputs.size() > settings.limits.max_batch_items) {
      throw http_error(http::status::payload_too_large, "too_many_items",
                       "inputs has " + std::to_string(inputs.size()) +
                           " items; limits.max_batch_items is " +
                           std::to_string(settings.limits.max_batch_items));
    }
    if (const auto c = j.find("chunk"); c != j.end()) {
      if (!c->is_number_unsigned() || c->get<std::uint64_t>() == 0) {
        throw bad_request("chunk must be a positive integer (inputs per chunk)");
      }
      out.chunk = c->get<std::uint64_t>();
    }
    out.batch = true;
    out.script_map = true;
    out.items.reserve(inputs.size());
    for (auto& input : inputs) {
      eval_item item;
      item.what = eval_item::kind::script;
      item.script = spec;
      item.input = std::move(input);
      out.items.push_back(std::move(item));
    }
    return out;
  }
  const auto items = j.find("items");
  if (items == j.end()) {
    json single = j;
    single.erase("timeout_ms");
    out.items.push_back(parse_eval_item(single, ""));
    if (out.items.front().what == eval_item::kind::invalid) {
      throw *out.items.front().failure;
    }
    return out;
  }
  out.batch = true;
  for (const auto& [key, _] : j.items()) {
    if (key != "items" && key != "chunk" && key != "timeout_ms") {
      throw bad_request("unknown field \"" + key + "\" (allowed: items, chunk, timeout_ms)");
    }
  }
  if (!items->is_array()) {
    throw bad_request("items must be an array");
  }
  const auto max_items = settings.limits.max_batch_items;
  if (items->size() > max_items) {
    throw http_error(http::status::payload_too_large, "too_many_items",
                     "batch has " + std::to_string(items->size()) +
                         " items; limits.max_batch_items is " + std::to_string(max_items));
  }
  if (const auto c = j.find("chunk"); c != j.end()) {
    if (!c->is_number_unsigned() || c->get<std::uint64_t>() == 0) {
      throw bad_request("chunk must be a positive integer (items per chunk)");
    }
    out.chunk = c->get<std::uint64_t>();
  }
  out.items.reserve(items->size());
  if (deferred_items != nullptr) {
    *deferred_items = &*items;  // the caller reads them in steps
    return out;
  }
  for (std::size_t i = 0; i < items->size(); ++i) {
    out.items.push_back(parse_eval_item((*items)[i], "items/" + std::to_string(i), &script_ctx));
    note_script_name(out, out.items.back());
  }
  return out;
}

eval_body_reader::eval_body_reader(std::string_view body, const config::settings& settings,
                                   bool launch_route)
    : decoder_(body), settings_(settings), launch_route_(launch_route) {}

bool eval_body_reader::advance(std::size_t bytes) {
  if (done_) {
    return true;
  }
  if (!decoded_) {
    if (!decoder_.advance(bytes)) {
      return false;
    }
    body_ = decoder_.take();
    decoded_ = true;
    out_ = interpret_eval_body(body_, settings_, launch_route_, &items_);
    if (items_ == nullptr) {
      done_ = true;  // what is left of body_ goes with discard()
      return true;
    }
    return false;  // a batch: its items next, after a look at the clock
  }
  // About as many items (or Log Detector payloads) as `bytes` of their text would hold.
  const std::size_t count = std::max<std::size_t>(1, bytes / (out_.detector ? 1024 : 64));
  const script_context script_ctx{settings_};
  auto& items = items_->get_ref<json::array_t&>();
  for (std::size_t k = 0; k < count && next_ < items.size(); ++k, ++next_) {
    out_.items.push_back(
        out_.detector
            ? detector_batch_item(items[next_], next_, launch_route_, settings_)
            : parse_eval_item(items[next_], "items/" + std::to_string(next_), &script_ctx));
    note_script_name(out_, out_.items.back());
    items[next_] = nullptr;  // its tree is freed in this step, not all at the end
  }
  merge_freed_blocks();
  if (next_ < items.size()) {
    return false;
  }
  items.clear();  // nulls: nlohmann's own teardown would first copy them all to a stack
  body_ = nullptr;
  done_ = true;
  return true;
}

eval_request eval_body_reader::take() {
  return std::move(out_);
}

bool eval_body_reader::discard(std::size_t bytes) {
  const std::size_t nodes = std::max<std::size_t>(1, bytes / 16);
  const bool done = shed_json(decoder_.leftovers(), nodes) && shed_json(body_, nodes);
  merge_freed_blocks();
  return done;
}

net::awaitable<std::string> run_eval_request(evaluation& ev, const config::settings& settings,
                                             const eval_request& er) {
  if (!er.batch && er.items.front().what == eval_item::kind::prime_trial) {
    // One trial workload: the cooperative parallel version, as GET /prime does.
    const trial_outcome t = co_await parallel_trial_division(ev, settings, er.items.front().n);
    std::string out;
    endpoints::append_trial_json(out, er.items.front().n, t);
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

namespace endpoints {

net::awaitable<void> eval(request_context& ctx, response& res, backend& stores) {
  eval_request er = co_await parse_eval_request(ctx);
  co_await resolve_named_scripts(er, stores.scripts(ctx.owner));
  evaluation ev(ctx, er.timeout_ms);
  res.body = co_await run_eval_request(ev, ctx.settings, er);
  ev.finish(res);
}

}  // namespace endpoints
}  // namespace evald
