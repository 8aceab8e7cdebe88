#pragma once
#include <string>
#include <string_view>

#include "config/settings.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/request/eval_request.hpp"
#include "server/net.hpp"

namespace evald {

class worker;

// The body as parse_eval_body reads it, on worker `w` (its thread only): a body bigger
// than a few KiB is read in compute slices there, behind its I/O, so its other
// connections wait a slice at most. The body must live until the awaitable completes.
net::awaitable<eval_request> read_eval_body(worker& w, std::string_view body,
                                            const config::settings& settings, bool launch_route);

// Computes every item over all workers (chunks planned by estimated cost, each run in
// slices); returns the response body. Throws http_error (deadline, a single item's
// failure, limits.max_response_size).
net::awaitable<std::string> run_eval_request(evaluation& ev, const config::settings& settings,
                                             const eval_request& er);

}  // namespace evald
