#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace evald {

// An object of the parsed text has `key` twice.
class duplicate_json_key : public std::runtime_error {
 public:
  explicit duplicate_json_key(const std::string& k)
      : std::runtime_error("duplicate key \"" + k + "\" in a JSON object"), key(k) {}
  std::string key;
};

// An array or object opened past the depth limit, at byte `byte` (1-based).
class json_too_deep : public std::runtime_error {
 public:
  json_too_deep(std::size_t max_depth, std::size_t at)
      : std::runtime_error("JSON nested deeper than " + std::to_string(max_depth) +
                           " levels at byte " + std::to_string(at)),
        byte(at) {}
  std::size_t byte;
};

// nlohmann::json::parse(text) (strict RFC 8259, UTF-8 checked), with its exception
// types (parse_error with the byte, out_of_range for a number past a double), that
// also throws duplicate_json_key. One pass, iterative: linear in the input, no
// recursion however deep. fuzz_json_parse checks it against nlohmann's parser.
// Containers nested deeper than `max_depth` throw json_too_deep.
nlohmann::json parse_json_rejecting_duplicate_keys(std::string_view text,
                                                   std::size_t max_depth = SIZE_MAX);

// The same parse in steps, so a big body can be read in compute slices: advance()
// reads on until about `bytes` more of the text are consumed (it stops only between
// two values, so a long string is read whole) and says whether the value is
// complete; it throws what parse_json_rejecting_duplicate_keys throws. The text must
// outlive the parser.
class json_incremental_parser {
 public:
  json_incremental_parser(std::string_view text, std::size_t max_depth = SIZE_MAX);
  ~json_incremental_parser();
  json_incremental_parser(const json_incremental_parser&) = delete;
  json_incremental_parser& operator=(const json_incremental_parser&) = delete;

  bool advance(std::size_t bytes);
  // Once advance() has returned true: the value. After it threw: the tree built so
  // far (to be freed in steps with shed_json).
  nlohmann::json take();

 private:
  class state;
  std::unique_ptr<state> state_;
};

// Frees up to `count` nodes of `j` (the last element of the innermost container
// first, so each step frees a leaf in O(depth)); true once `j` is null. A big tree
// freed in one go holds its thread for milliseconds.
bool shed_json(nlohmann::json& j, std::size_t count);

}  // namespace evald
