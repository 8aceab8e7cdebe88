// POST /eval bodies: JSON decoding (our parser checked against nlohmann's on every
// input), depth and duplicate-key checks, item and Log Detector payload validation.
// The decoder in small steps must agree with itself in one piece.
// Only http_error may escape parse_eval_body (a 4xx for the client); anything else,
// or a disagreement between the two parsers, is a finding.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "config/settings.hpp"
#include "handlers/json/json_keys.hpp"
#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/request/eval_request.hpp"
#include "server/http_error.hpp"

namespace {

enum class verdict { value, syntax, range, duplicate };

verdict ours(std::string_view text, nlohmann::json& out) {
  try {
    out = evald::parse_json_rejecting_duplicate_keys(text);
    return verdict::value;
  } catch (const evald::duplicate_json_key&) {
    return verdict::duplicate;
  } catch (const nlohmann::json::parse_error&) {
    return verdict::syntax;
  } catch (const nlohmann::json::out_of_range&) {
    return verdict::range;
  }
}

verdict reference(std::string_view text, nlohmann::json& out) {
  try {
    out = nlohmann::json::parse(text);
    return verdict::value;
  } catch (const nlohmann::json::parse_error&) {
    return verdict::syntax;
  } catch (const nlohmann::json::out_of_range&) {
    return verdict::range;
  }
}

void compare_parsers(std::string_view text) {
  nlohmann::json a;
  nlohmann::json b;
  const verdict va = ours(text, a);
  if (text.find('\0') != std::string_view::npos) {
    // nlohmann's lexer takes a NUL byte for the end of the input and accepts
    // `"x"\0junk`; a raw NUL is never valid JSON, and we refuse it.
    if (va == verdict::value) {
      std::abort();
    }
    return;
  }
  const verdict vb = reference(text, b);
  if (va == verdict::duplicate) {
    return;  // nlohmann keeps the last of duplicate keys; we refuse them
  }
  if (va != vb || (va == verdict::value && a != b)) {
    std::abort();
  }
}

// The body decoder in steps of 1..16 bytes (as a big body is decoded in compute
// slices) must give what it gives in one piece: the same value or the same error.
void compare_steps(std::string_view text) {
  const std::size_t step = text.empty() ? 1 : 1 + static_cast<unsigned char>(text.back()) % 16;
  std::string once_error;
  std::string stepped_error;
  nlohmann::json once;
  nlohmann::json stepped;
  try {
    evald::eval_body_decoder d(text);
    while (!d.advance(SIZE_MAX)) {
    }
    once = d.take();
  } catch (const evald::http_error& e) {
    once_error = e.what();
  }
  try {
    evald::eval_body_decoder d(text);
    while (!d.advance(step)) {
    }
    stepped = d.take();
  } catch (const evald::http_error& e) {
    stepped_error = e.what();
  }
  if (once_error != stepped_error || once != stepped) {
    std::abort();
  }
  // And the whole reading (a batch's items checked in steps) against parse_eval_body.
  static const evald::config::settings settings;
  std::string whole_error;
  std::string steps_error;
  evald::eval_request whole;
  evald::eval_request steps;
  try {
    whole = evald::parse_eval_body(text, settings);
  } catch (const evald::http_error& e) {
    whole_error = e.what();
  }
  try {
    evald::eval_body_reader reader(text, settings, false);
    while (!reader.advance(step)) {
    }
    steps = reader.take();
  } catch (const evald::http_error& e) {
    steps_error = e.what();
  }
  if (whole_error != steps_error || whole.items.size() != steps.items.size() ||
      whole.batch != steps.batch || whole.chunk != steps.chunk ||
      whole.timeout_ms != steps.timeout_ms) {
    std::abort();
  }
  for (std::size_t i = 0; i < whole.items.size(); ++i) {
    const auto& a = whole.items[i];
    const auto& b = steps.items[i];
    const auto message = [](const evald::eval_item& item) {
      return item.failure ? item.failure->message() : std::string();
    };
    if (a.what != b.what || a.n != b.n || message(a) != message(b) || a.input != b.input) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const evald::config::settings settings;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  compare_parsers(text);
  compare_steps(text);
  for (const bool launch_route : {false, true}) {
    try {
      const auto er = evald::parse_eval_body(text, settings, launch_route);
      for (const auto& item : er.items) {
        // The kernels on what the parser let through (cheap kinds only: trial may take
        // seconds).
        if (item.what == evald::eval_item::kind::factor) {
          (void)evald::kernels::factor_u64(item.n);
        } else if (item.what == evald::eval_item::kind::prime_mr) {
          (void)evald::kernels::is_prime_u64(item.n);
        }
      }
    } catch (const evald::http_error&) {
    }
  }
  return 0;
}
