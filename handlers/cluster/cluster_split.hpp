#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/request/eval_request.hpp"

// One big launched job across cluster nodes: the plan (which bodies are split, into
// which parts) and the running of one part. Each part is an ordinary local
// evaluation on the node that took it; Redis assembles the parts' results
// (cluster_queue). Part results are short texts the assembling script parses:
//   trial: "<smallest factor in the range, 0 = none>,<divisors checked>"
//   map:   "<ok>,<failed>,<cpu ms>|<the part's result objects, comma-separated>"
namespace evald {

struct split_plan {
  std::string kind;                // "trial" or "map"
  std::string head;                // trial: the final object's opening, {"n":N
  std::vector<std::string> parts;  // each part's body, in order
};

// Parts are at most this many (a bigger job gets bigger parts).
inline constexpr std::size_t max_split_parts = 4096;

// The plan for a launch body already parsed as `er`, or nullopt to run it whole: a
// single trial division whose estimated time on one core is above
// cluster.split_time, or a script map of more than cluster.map_part_inputs inputs.
std::optional<split_plan> plan_split(const eval_request& er, std::string_view body,
                                     const config::settings& settings);

struct part_outcome {
  std::string result;  // in the format above
  bool hit = false;    // trial: a factor was found (the parts above it are not needed)
};

// Runs one part on this node's workers. Throws http_error as an evaluation does
// (deadline, bad part body). Named scripts resolve as `tenant` (the job's owner) calls them.
net::awaitable<part_outcome> run_split_part(evaluation& ev, const config::settings& settings,
                                            const std::string& kind, const std::string& body,
                                            const script_catalog& scripts,
                                            const std::string& tenant);

}  // namespace evald
