#include "handlers/cluster/cluster_split.hpp"

#include "handlers/exec/eval_run.hpp"
#include "handlers/exec/item_results.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "handlers/exec/parallel_trial.hpp"
#include "handlers/kernels/trial_division.hpp"
#include "server/http_error.hpp"

namespace evald {
namespace {

using json = nlohmann::json;

// The wheel keeps 8 candidates in every 30 numbers; 2, 3 and 5 are checked first.
constexpr std::uint64_t wheel_span = 30;
constexpr std::uint64_t wheel_kept = 8;
constexpr std::uint64_t first_candidate = 7;

std::optional<split_plan> plan_trial(std::uint64_t n, const config::settings& settings) {
  if (n % 2 == 0 || n % 3 == 0 || n % 5 == 0) {
    return std::nullopt;  // answered at once
  }
  const std::uint64_t end = kernels::isqrt_u64(n) + 1;
  if (end <= first_candidate) {
    return std::nullopt;
  }
  const double ns = trial_ns_per_candidate();
  const double candidates =
      static_cast<double>(end - first_candidate) * wheel_kept / static_cast<double>(wheel_span);
  const double split_ns = static_cast<double>(settings.cluster.split_time.count()) * 1e6;
  if (settings.cluster.split_time.count() == 0 || candidates * ns < split_ns) {
    return std::nullopt;
  }
  const double part_candidates = static_cast<double>(settings.cluster.part_time.count()) * 1e6 / ns;
  std::uint64_t span =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(part_candidates / wheel_kept)) *
      wheel_span;
  const std::uint64_t width = end - first_candidate;
  if ((width + span - 1) / span > max_split_parts) {
    span = ((width + max_split_parts - 1) / max_split_parts + wheel_span - 1) / wheel_span *
           wheel_span;
  }
  split_plan plan;
  plan.kind = "trial";
  plan.head = R"({"n":)";
  append_u64_json(plan.head, n);
  for (std::uint64_t lo = first_candidate; lo < end; lo += span) {
    const std::uint64_t hi = std::min(end, lo + span);
    plan.parts.push_back(json{{"n", n}, {"lo", lo}, {"hi", hi}}.dump());
  }
  return plan;
}

std::optional<split_plan> plan_map(std::string_view body, const config::settings& settings) {
  json j = json::parse(body);  // already validated by parse_eval_body
  const auto& inputs = j.at("inputs");
  const std::size_t per_part = std::max<std::size_t>(
      settings.cluster.map_part_inputs, (inputs.size() + max_split_parts - 1) / max_split_parts);
  if (inputs.size() <= settings.cluster.map_part_inputs ||
      settings.cluster.split_time.count() == 0) {
    return std::nullopt;
  }
  json all = std::move(j["inputs"]);
  j.erase("timeout_ms");  // the job's deadline applies to all parts together
  split_plan plan;
  plan.kind = "map";
  for (std::size_t lo = 0; lo < all.size(); lo += per_part) {
    json slice = json::array();
    for (std::size_t i = lo; i < std::min(all.size(), lo + per_part); ++i) {
      slice.push_back(std::move(all[i]));
    }
    j["inputs"] = std::move(slice);
    plan.parts.push_back(j.dump(-1, ' ', false, json::error_handler_t::strict));
  }
  return plan;
}

std::uint64_t part_field(const json& j, const char* name) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    throw http_error(http::status::bad_request, "bad_part",
                     std::string("a trial-division part lacks ") + name);
  }
  return it->get<std::uint64_t>();
}

}  // namespace

std::optional<split_plan> plan_split(const eval_request& er, std::string_view body,
                                     const config::settings& settings) {
  if (er.detector || er.items.empty()) {
    return std::nullopt;
  }
  if (!er.batch && er.items.front().what == eval_item::kind::prime_trial) {
    return plan_trial(er.items.front().n, settings);
  }
  const bool script_map = er.batch && er.items.front().what == eval_item::kind::script &&
                          body.find("\"inputs\"") != std::string_view::npos;
  if (script_map) {
    return plan_map(body, settings);
  }
  return std::nullopt;
}

net::awaitable<part_outcome> run_split_part(evaluation& ev, const config::settings& settings,
                                            const std::string& kind, const std::string& body,
                                            const script_catalog& scripts,
                                            const std::string& tenant) {
  part_outcome out;
  if (kind == "trial") {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
      throw http_error(http::status::bad_request, "bad_part", "a trial-division part is not JSON");
    }
    const std::uint64_t n = part_field(j, "n");
    const std::uint64_t lo = std::max(part_field(j, "lo"), first_candidate);
    const std::uint64_t hi = part_field(j, "hi");
    const trial_outcome t = co_await parallel_trial_range(ev, settings, n, lo, hi);
    out.hit = t.factor != 0;
    out.result = std::to_string(t.factor) + "," + std::to_string(t.divisors_checked);
    co_return out;
  }
  if (kind != "map") {
    throw http_error(http::status::bad_request, "bad_part", "unknown part kind " + kind);
  }
  eval_request er = parse_eval_body(body, settings);
  bind_named_scripts(er, scripts, tenant);
  const std::string all = co_await run_eval_request(ev, settings, er);
  // {"results":[ …items… ],"summary":{…}}: the summary is ours and comes last.
  constexpr std::string_view open = R"({"results":[)";
  const auto close = all.rfind(R"(],"summary":)");
  if (!all.starts_with(open) || close == std::string::npos) {
    throw http_error(http::status::internal_server_error, "internal_error",
                     "a map part's result has an unexpected shape");
  }
  const json summary = json::parse(all.substr(close + 12, all.size() - close - 13));
  char head[96];
  std::snprintf(head, sizeof head, "%llu,%llu,%.3f|",
                static_cast<unsigned long long>(summary.at("ok").get<std::uint64_t>()),
                static_cast<unsigned long long>(summary.at("failed").get<std::uint64_t>()),
                summary.at("cpu_ms").get<double>());
  out.result = head;
  out.result.append(all, open.size(), close - open.size());
  co_return out;
}

}  // namespace evald
