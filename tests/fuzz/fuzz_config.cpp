// Config files: JSON with comments, then the strict loader. Only config_error (a
// start-up message naming the path) may come out of a bad file.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "config/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto j = nlohmann::json::parse(text, nullptr, false, true);
  if (j.is_discarded()) {
    return 0;
  }
  try {
    const auto s = evald::config::from_json(j);
    evald::config::validate(s);
  } catch (const evald::config::config_error&) {
  }
  return 0;
}
