#include "handlers/eval_item.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

#include "handlers/detector_request.hpp"
#include "handlers/endpoints.hpp"
#include "handlers/kernels/factor.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/kernels/trial_division.hpp"
#include "handlers/parallel_trial.hpp"
#include "handlers/params.hpp"
#include "handlers/script_request.hpp"
#include "server/http_error.hpp"

namespace evald {
namespace {

using json = nlohmann::json;

http_error item_error(const std::string& message) {
  return bad_request(message);
}

// One message for every wrong workload: what is accepted, the Log Detector form, and a
// "did you mean" when only the case differs ("Script").
std::string workload_error(const json* workload) {
  static constexpr std::array<std::string_view, 3> known = {"prime", "factor", "script"};
  std::string message;
  if (workload == nullptr) {
    message = "workload is missing";
  } else if (!workload->is_string()) {
    message = "workload must be a string";
  } else {
    const std::string w = workload->get<std::string>();
    message = "unknown workload \"" + w + "\"";
    for (const auto k : known) {
      const bool same_but_case =
          w.size() == k.size() && std::equal(w.begin(), w.end(), k.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
          });
      if (same_but_case) {
        message += " (did you mean \"" + std::string(k) + "\"?)";
      }
    }
  }
  return message +
         ": accepted are \"prime\" (n, method), \"factor\" (n) and \"script\" (source or "
         "script, input or inputs); a Log Detector request has \"payload\" instead of a "
         "workload";
}

}  // namespace

eval_item parse_eval_item(const json& j, const std::string& path, const script_context* scripts) {
  eval_item item;
  const std::string at = path.empty() ? "" : path + ": ";
  if (!j.is_object()) {
    item.failure = item_error(at + "an item must be a JSON object");
    return item;
  }
  if (const auto w = j.find("workload"); w != j.end() && *w == "script") {
    for (const auto& [key, value] : j.items()) {
      if (key != "workload" && key != "source" && key != "script" && key != "input" &&
          key != "limits") {
        item.failure = item_error(at + "unknown field \"" + key +
                                  "\" (allowed: workload, source, script, input, limits)");
        return item;
      }
    }
    if (scripts == nullptr) {
      item.failure = item_error(at + "script workloads are not available here");
      return item;
    }
    try {
      item.script = parse_script_spec(j, scripts->settings);
    } catch (const http_error& e) {
      item.failure = e;
      item.failure->full_message = at + e.message();
      return item;
    }
    item.input = j.contains("input") ? j["input"] : json(nullptr);
    item.what = eval_item::kind::script;
    return item;
  }
  // The workload first: its fields depend on it ({"workload":"Script","source":…} was
  // told that source is an unknown field).
  const auto workload = j.find("workload");
  if (workload == j.end() || !workload->is_string() ||
      (*workload != "prime" && *workload != "factor")) {
    item.failure = item_error(at + workload_error(workload == j.end() ? nullptr : &*workload));
    return item;
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "workload" && key != "n" && key != "method") {
      item.failure =
          item_error(at + "unknown field \"" + key + "\" (allowed: workload, n, method)");
      return item;
    }
  }
  const auto n = j.find("n");
  std::optional<std::uint64_t> value;
  if (n != j.end() && n->is_string()) {
    value = parse_u64_decimal(n->get<std::string>());
  } else if (n != j.end() && n->is_number_unsigned()) {
    value = n->get<std::uint64_t>();
  } else if (n != j.end() && n->is_number_integer() && n->get<std::int64_t>() >= 0) {
    value = static_cast<std::uint64_t>(n->get<std::int64_t>());
  }
  if (!value) {
    item.failure = item_error(at + "n must be a decimal integer from 0 to 18446744073709551615");
    return item;
  }
  item.n = *value;
  const std::string w = workload->get<std::string>();
  const auto method = j.find("method");
  if (w == "factor") {
    if (method != j.end()) {
      item.failure = item_error(at + "method applies to the prime workload only");
      return item;
    }
    item.what = eval_item::kind::factor;
  } else if (w == "prime") {
    const std::string m = method == j.end()     ? "auto"
                          : method->is_string() ? method->get<std::string>()
                                                : "";
    if (m == "auto" || m == "miller-rabin") {
      item.what = eval_item::kind::prime_mr;
    } else if (m == "trial") {
      item.what = eval_item::kind::prime_trial;
    } else {
      item.failure = item_error(at + "method must be auto, miller-rabin or trial");
    }
  }
  return item;
}

std::string compute_eval_item(const eval_item& item) {
  switch (item.what) {
    case eval_item::kind::prime_mr: {
      std::string out;
      endpoints::append_prime_json(out, item.n, kernels::is_prime_u64(item.n));
      return out;
    }
    case eval_item::kind::factor: {
      std::string out;
      endpoints::append_factor_json(out, item.n, kernels::factor_u64(item.n));
      return out;
    }
    case eval_item::kind::prime_trial: {
      kernels::trial_division t(item.n);
      while (!t.step(1 << 20)) {
      }
      return trial_item_json(item.n, t);
    }
    case eval_item::kind::script:  // run in slices by script_runner, never here
    case eval_item::kind::record:  // run in slices by rule_runner, never here
    case eval_item::kind::invalid:
      break;
  }
  return item_error_json(*item.failure);
}

std::string item_error_json(const http_error& e) {
  nlohmann::ordered_json j;
  j["error"] = {
      {"status", static_cast<unsigned>(e.status)}, {"code", e.code}, {"message", e.message()}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string trial_item_json(std::uint64_t n, const kernels::trial_division& t) {
  trial_outcome out;
  out.factor = t.smallest_factor();
  out.prime = t.is_prime();
  out.divisors_checked = t.divisors_checked();
  out.workers = 1;
  std::string json;
  endpoints::append_trial_json(json, n, out);
  return json;
}

double estimate_eval_item_ns(const eval_item& item, double trial_ns_per_candidate) {
  switch (item.what) {
    case eval_item::kind::prime_mr:
      return 1000;
    case eval_item::kind::factor:
      return item.n < (1ULL << 32) ? 2000 : 200'000;
    case eval_item::kind::prime_trial:
      // Upper bound: n prime, every wheel candidate up to √n tried.
      return static_cast<double>(kernels::isqrt_u64(item.n)) * 8.0 / 30.0 * trial_ns_per_candidate;
    case eval_item::kind::script:
      // Unknown in advance; a small guess keeps chunks short (a slow input then
      // strands little behind it) and a state is reused per worker.
      return 20'000;
    case eval_item::kind::record:
      // A cached condition over a small record runs in a few microseconds.
      return 2'000 +
             4'000.0 * static_cast<double>(item.record ? item.record->conditions.size() + 1 : 1);
    case eval_item::kind::invalid:
      break;
  }
  return 0;
}

}  // namespace evald
