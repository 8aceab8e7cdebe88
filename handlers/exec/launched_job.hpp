#pragma once
#include <functional>
#include <memory>
#include <string>

#include "config/settings.hpp"
#include "handlers/request/eval_request.hpp"
#include "server/http_error.hpp"
#include "server/parallel.hpp"

namespace evald {

class worker;

// How a launched job ended: its status and the result a client reads.
struct job_outcome {
  std::string status;  // done, failed or expired
  std::string result;  // the /eval body, or {"error":{...}}
};

// The outcome of a job that failed with `e` (expired for deadline_exceeded).
job_outcome failed_outcome(const http_error& e);

// Runs a launched job's request on worker `w` (its thread), as POST /eval would with
// no client waiting: the one runner of both backends. `on_job` sees each parallel
// job before it starts (for progress and cancellation). The request's own failures
// become the outcome; only a bug throws.
net::awaitable<job_outcome> run_launched_request(
    worker& w, const config::settings& settings, const eval_request& er,
    std::function<void(std::shared_ptr<parallel_job>)> on_job, const std::string& tenant = {});

}  // namespace evald
