#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "handlers/json/json_keys.hpp"
#include "handlers/request/eval_item.hpp"
#include "handlers/request/script_catalog.hpp"

namespace evald {

// A parsed POST /eval (or /eval-launch) body.
struct eval_request {
  std::vector<eval_item> items;
  bool batch = false;                  // {"items":[...]} rather than one workload
  std::optional<std::uint64_t> chunk;  // items per chunk, overriding the automatic size
  std::optional<std::uint64_t> timeout_ms;
  bool detector = false;  // the Log Detector contract ({"payload"} or {"payloads"})
  // The named scripts the request runs, each once, in order of appearance: the handler
  // resolves them with one store call (bind_named_scripts), only when there are any.
  std::vector<std::string> script_names;
  bool script_map = false;  // one script over "inputs" (a missing name fails it whole)
};

// Gives every named script of `er` its source from `catalog`, each name as `tenant`
// calls it (its own script, then the shared one). A name the catalog does not have is
// a 404 script_not_found for a single script or a map, and that item's error in a batch.
void bind_named_scripts(eval_request& er, const script_catalog& catalog, std::string_view tenant);

// How a batch's errors name it: "<list> has N <items>", "(<chunk_unit> per chunk)".
struct batch_words {
  std::string_view list;
  std::string_view items;
  std::string_view chunk_unit;
};
// A batch body's size against limits.max_batch_items (413 too_many_items) and its
// optional "chunk" (a positive integer, 400 otherwise) into out.chunk.
void read_batch_shape(const nlohmann::json& body, std::size_t count, const batch_words& words,
                      const config::settings& settings, eval_request& out);

// Validates JSON (400 with the byte position), nesting depth, batch size (413); bad
// items of a batch stay in their slots as errors. `launch_route`: the body came to
// /eval-launch (a payload then has a launchCondition). Throws http_error. In one
// piece; also the fuzz target's entry. The same as an eval_body_reader run to the end.
eval_request parse_eval_body(std::string_view body, const config::settings& settings,
                             bool launch_route = false);

// A body's JSON in steps (so a big batch is read in compute slices, not in one stretch
// that holds the worker's other connections): strict RFC 8259, no duplicate keys, at
// most `max_depth` levels; a Log Detector body whose strings hold bytes that are not
// UTF-8 is repaired (U+FFFD) and read again. advance() throws bad_request naming the
// problem and its byte. The body must outlive the decoder.
class eval_body_decoder {
 public:
  static constexpr std::size_t max_depth = 32;

  explicit eval_body_decoder(std::string_view body);
  ~eval_body_decoder();
  eval_body_decoder(const eval_body_decoder&) = delete;
  eval_body_decoder& operator=(const eval_body_decoder&) = delete;

  // Reads about `bytes` more; true once the whole body is decoded.
  bool advance(std::size_t bytes);
  nlohmann::json take();  // once advance() has returned true
  // What a failed pass built (after a throw, or before a repair pass), to be freed
  // in steps (shed_json) rather than in one piece with the decoder.
  nlohmann::json& leftovers() noexcept { return leftovers_; }

 private:
  bool repairing() const noexcept { return repaired_.has_value(); }
  bool step(std::size_t bytes);

  std::string_view body_;
  std::unique_ptr<json_incremental_parser> parser_;
  std::optional<std::string> repaired_;
  std::string first_error_;
  nlohmann::json value_;
  nlohmann::json leftovers_;
  bool done_ = false;
};

// A decoded body's meaning: the workload, items or Log Detector payloads, validated.
// With `deferred_items`, a batch's items (or Log Detector payloads) are left for the
// caller (who reads them in steps): it points at them, and the result has none yet;
// otherwise it is null.
eval_request interpret_eval_body(nlohmann::json& body, const config::settings& settings,
                                 bool launch_route = false,
                                 nlohmann::json** deferred_items = nullptr);

// The whole body in steps: decoded, then a batch's items checked about `bytes`' worth
// at a time (each item's tree freed as it is read). advance() throws http_error.
class eval_body_reader {
 public:
  eval_body_reader(std::string_view body, const config::settings& settings, bool launch_route);

  bool advance(std::size_t bytes);  // true once the request is read
  eval_request take();
  // Frees, about `bytes`' worth at a time, the trees left once reading ended (the
  // body's, or a failed decode's); true when nothing is left.
  bool discard(std::size_t bytes);

 private:
  eval_body_decoder decoder_;
  const config::settings& settings_;
  bool launch_route_;
  nlohmann::json body_;
  nlohmann::json* items_ = nullptr;  // a batch's items still to read
  std::size_t next_ = 0;
  bool decoded_ = false;
  bool done_ = false;
  eval_request out_;
};

}  // namespace evald
