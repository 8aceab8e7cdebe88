#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "handlers/kernels/trial_division.hpp"
#include "handlers/request/eval_item.hpp"
#include "server/http_error.hpp"

namespace evald {

struct trial_outcome;

// Result objects shared by the GET endpoints, /eval and the cluster's parts. Each
// appends to `out` (a response body keeps its capacity between requests).
// Numbers travel as JSON strings ("123") so no client loses precision above 2^53.
void append_u64_json(std::string& out, std::uint64_t v);
void append_prime_json(std::string& out, std::uint64_t n, bool is_prime);
void append_factor_json(std::string& out, std::uint64_t n,
                        const std::vector<std::uint64_t>& factors);
void append_trial_json(std::string& out, std::uint64_t n, const trial_outcome& t);

// The item's result object (the same JSON as the GET endpoints). Pure compute.
std::string compute_eval_item(const eval_item& item);

// Serial trial division of a batch item (no nested fan-out inside a batch), run in
// bounded steps so its chunk can yield: step() returns true when done.
std::string trial_item_json(std::uint64_t n, const kernels::trial_division& t);

// A rough upper bound of the item's cost in nanoseconds, used to size chunks.
double estimate_eval_item_ns(const eval_item& item, double trial_ns_per_candidate);

}  // namespace evald
