#include "handlers/json_keys.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace evald {

namespace {

using json = nlohmann::json;

// A SAX handler that keeps only the keys of the objects open at the moment.
class duplicate_key_finder {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

  bool start_object(std::size_t) {
    open_objects_.emplace_back();
    return true;
  }
  bool key(json::string_t& k) {
    open_objects_.back().push_back(std::move(k));
    return true;
  }
  bool end_object() {
    auto& keys = open_objects_.back();
    std::sort(keys.begin(), keys.end());
    if (const auto twice = std::adjacent_find(keys.begin(), keys.end()); twice != keys.end()) {
      duplicate_ = std::move(*twice);
      return false;  // stops the parse
    }
    open_objects_.pop_back();
    return true;
  }

  std::optional<std::string> duplicate() && { return std::move(duplicate_); }

 private:
  std::vector<std::vector<std::string>> open_objects_;
  std::optional<std::string> duplicate_;
};

}  // namespace

std::optional<std::string> first_duplicate_key(std::string_view text) {
  duplicate_key_finder finder;
  json::sax_parse(text, &finder);
  return std::move(finder).duplicate();
}

}  // namespace evald
