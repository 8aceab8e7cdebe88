#pragma once
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

// nlohmann::json::parse(text) (strict RFC 8259, UTF-8 checked), with its exception
// types (parse_error with the byte, out_of_range for a number past a double), that
// also throws duplicate_json_key. One pass, iterative: linear in the input, no
// recursion however deep. fuzz_json_parse checks it against nlohmann's parser.
nlohmann::json parse_json_rejecting_duplicate_keys(std::string_view text);

}  // namespace evald
