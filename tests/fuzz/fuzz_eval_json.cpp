// POST /eval bodies: JSON decoding, depth and duplicate-key checks, item validation.
// Only http_error may escape (a 4xx for the client); anything else is a finding.
#include <cstdint>
#include <string_view>

#include "config/settings.hpp"
#include "handlers/eval_request.hpp"
#include "server/http_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const evald::config::settings settings;
  try {
    const auto er = evald::parse_eval_body(
        std::string_view(reinterpret_cast<const char*>(data), size), settings);
    for (const auto& item : er.items) {
      if (item.what == evald::eval_item::kind::factor ||
          item.what == evald::eval_item::kind::prime_mr) {
        (void)evald::compute_eval_item(item);  // cheap kinds only: trial may take seconds
      }
    }
  } catch (const evald::http_error&) {
  }
  return 0;
}
