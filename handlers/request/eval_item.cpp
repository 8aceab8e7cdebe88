#include "handlers/request/eval_item.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>

#include "handlers/request/script_request.hpp"
#include "server/ascii.hpp"
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

}  // namespace evald
