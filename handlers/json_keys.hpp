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

// nlohmann::json::parse(text), with its exceptions, that also throws duplicate_json_key.
// One pass: linear in the input, plus k log k for an object of k keys. nlohmann's
// callback parser, used for this before, rescans the enclosing array at the end of
// every object: a batch of 30,000 items took 31 s to decode (dev build).
nlohmann::json parse_json_rejecting_duplicate_keys(std::string_view text);

}  // namespace evald
