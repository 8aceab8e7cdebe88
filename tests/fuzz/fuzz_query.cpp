// Request targets and query strings, and the decimal `n` parser, with invariants:
// a parsed n prints back to the same digits without leading zeros.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "handlers/http/params.hpp"
#include "server/ascii.hpp"
#include "server/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace evald;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (valid_target_chars(input)) {
    if (const auto parts = split_target(input)) {
      try {
        const auto q = query_params::parse(parts->query);
        for (const auto& [k, v] : q.items()) {
          (void)q.find(k);
          (void)parse_u64_decimal(v);
        }
      } catch (const std::invalid_argument&) {
      }
    }
  }
  if (const auto n = parse_u64_decimal(input)) {
    std::string_view digits = input;
    while (digits.size() > 1 && digits.front() == '0') {
      digits.remove_prefix(1);
    }
    if (std::to_string(*n) != digits) {
      std::abort();  // parse_u64_decimal disagrees with its input
    }
  }
  return 0;
}
