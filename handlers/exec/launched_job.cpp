#include "handlers/exec/launched_job.hpp"

#include "handlers/exec/eval_run.hpp"
#include "handlers/exec/evaluation.hpp"
#include "handlers/exec/item_results.hpp"
#include "handlers/json/error_json.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {

job_outcome failed_outcome(const http_error& e) {
  return {e.code == "deadline_exceeded" ? "expired" : "failed", error_json(e)};
}

net::awaitable<job_outcome> run_launched_request(
    worker& w, const config::settings& settings, const eval_request& er,
    std::function<void(std::shared_ptr<parallel_job>)> on_job, const std::string& tenant) {
  job_outcome out;
  try {
    // The tenant that launched it shares the workers and pays the CPU, as on /eval.
    std::shared_ptr<tenant_account> account;
    if (w.tenants() != nullptr && !tenant.empty()) {
      account = w.tenants()->named(tenant);
    }
    evaluation ev(w, settings, er.timeout_ms, std::move(account));
    ev.on_job = std::move(on_job);
    // (No co_await inside a braced initializer: GCC 12 destroys its temporaries twice.)
    std::string body = co_await run_eval_request(ev, settings, er);
    out.status = "done";
    out.result = std::move(body);
  } catch (const http_error& e) {
    out = failed_outcome(e);
  }
  co_return out;
}

}  // namespace evald
