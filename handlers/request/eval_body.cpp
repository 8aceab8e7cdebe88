// Reading a POST /eval (or /eval-launch) body: decoded in steps, interpreted,
// validated; the named scripts it uses recorded and later bound. No I/O, no store.
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "handlers/json/json_keys.hpp"
#include "handlers/json/unicode_repair.hpp"
#include "handlers/request/detector_request.hpp"
#include "handlers/request/eval_item.hpp"
#include "handlers/request/eval_request.hpp"
#include "handlers/request/script_request.hpp"
#include "server/http_error.hpp"

namespace evald {

using json = nlohmann::json;

namespace {

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

void bind_named_scripts(eval_request& er, const script_catalog& catalog, std::string_view tenant) {
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
    const script_entry* entry = catalog.resolve(tenant, item.script->name);
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

// glibc keeps freed small blocks aside ("fast bins") and merges them all at the next
// large allocation, wherever that is: after a batch's trees are freed item by item, the
// merge of every block came in one stretch (19 ms for 100,000 items, bench_eval_parse).
// A large allocation after each step merges that step's blocks in the step.
void merge_freed_blocks() {
  void* volatile block = std::malloc(4096);  // volatile: the pair must not be elided
  std::free(block);
}

}  // namespace

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

void read_batch_shape(const json& body, std::size_t count, const batch_words& words,
                      const config::settings& settings, eval_request& out) {
  if (count > settings.limits.max_batch_items) {
    throw http_error(http::status::payload_too_large, "too_many_items",
                     std::string(words.list) + " has " + std::to_string(count) + " " +
                         std::string(words.items) + "; limits.max_batch_items is " +
                         std::to_string(settings.limits.max_batch_items));
  }
  if (const auto c = body.find("chunk"); c != body.end()) {
    if (!c->is_number_unsigned() || c->get<std::uint64_t>() == 0) {
      throw bad_request("chunk must be a positive integer (" + std::string(words.chunk_unit) +
                        " per chunk)");
    }
    out.chunk = c->get<std::uint64_t>();
  }
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
    read_batch_shape(j, inputs.size(), {"inputs", "items", "inputs"}, settings, out);
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
  read_batch_shape(j, items->size(), {"batch", "items", "items"}, settings, out);
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

}  // namespace evald
