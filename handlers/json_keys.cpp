#include "handlers/json_keys.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace evald {

namespace {

using json = nlohmann::json;

// nlohmann's own DOM builder (what json::parse uses), with the keys of the objects
// open at the moment kept on the side and checked as each object closes.
class dom_builder_rejecting_duplicates {
 public:
  explicit dom_builder_rejecting_duplicates(json& result) : dom_(result) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_array(std::size_t n) { return dom_.start_array(n); }
  bool end_array() { return dom_.end_array(); }
  // A template, so the DOM builder throws the parser's exception with its own type.
  template <class Exception>
  bool parse_error(std::size_t at, const std::string& token, const Exception& e) {
    return dom_.parse_error(at, token, e);
  }

  bool start_object(std::size_t n) {
    open_objects_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    open_objects_.back().push_back(k);
    return dom_.key(k);
  }
  bool end_object() {
    auto& keys = open_objects_.back();
    std::sort(keys.begin(), keys.end());
    if (const auto twice = std::adjacent_find(keys.begin(), keys.end()); twice != keys.end()) {
      throw duplicate_json_key(*twice);
    }
    open_objects_.pop_back();
    return dom_.end_object();
  }

 private:
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<std::vector<std::string>> open_objects_;
};

}  // namespace

json parse_json_rejecting_duplicate_keys(std::string_view text) {
  json result;
  dom_builder_rejecting_duplicates builder(result);
  json::sax_parse(text, &builder);
  return result;
}

}  // namespace evald
