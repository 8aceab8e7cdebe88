#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "handlers/kernels/trial_division.hpp"

namespace evald {

// One workload of POST /eval: {"workload":"prime","n":"97","method":"trial"} or
// {"workload":"factor","n":"12"}. Parsed on the request's worker; computed on any.
struct eval_item {
  enum class kind : std::uint8_t { invalid, prime_mr, prime_trial, factor };
  kind what = kind::invalid;
  std::uint64_t n = 0;
  std::string error;  // for invalid items: the complete {"error":{...}} object
};

// Never throws for a bad item: the problem goes into `error`, naming the field.
eval_item parse_eval_item(const nlohmann::json& j, const std::string& path);

// The item's result object (the same JSON as the GET endpoints). Pure compute.
std::string compute_eval_item(const eval_item& item);

// Serial trial division of a batch item (no nested fan-out inside a batch), run in
// bounded steps so its chunk can yield: step() returns true when done.
std::string trial_item_json(std::uint64_t n, const kernels::trial_division& t);

// A rough upper bound of the item's cost in nanoseconds, used to size chunks.
double estimate_eval_item_ns(const eval_item& item, double trial_ns_per_candidate);

}  // namespace evald
