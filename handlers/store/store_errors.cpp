#include "handlers/store/store_errors.hpp"

namespace evald {

http_error store_unavailable() {
  http_error e(http::status::service_unavailable, "cluster_unavailable",
               "the cluster store (Redis) is unreachable; retry later");
  e.retry_after = "1";
  return e;
}

http_error store_unavailable(const std::string& cause) {
  http_error e(http::status::service_unavailable, "cluster_unavailable",
               "the cluster store (Redis) is unavailable: " + cause + "; retry later");
  e.retry_after = "1";
  return e;
}

http_error job_store_full() {
  http_error e(http::status::service_unavailable, "too_many_jobs",
               "the job store is full (jobs.max jobs, or jobs.max_results_size bytes of "
               "results kept); retry later, or DELETE finished jobs");
  e.retry_after = "10";
  return e;
}

http_error idempotency_key_reused() {
  return http_error(http::status::unprocessable_entity, "idempotency_key_reused",
                    "this Idempotency-Key was sent with a different request (body or "
                    "parameters); a retry must repeat the request exactly, a new request "
                    "needs a new key");
}

http_error tenant_quota_exceeded(const std::string& quota, const std::string& tenant,
                                 std::uint64_t limit, const std::string& message,
                                 const std::string& retry_after) {
  http_error e(http::status::too_many_requests, "quota_exceeded",
               "tenant \"" + tenant + "\" " + message);
  // Tenant names are [a-z0-9_-]: no JSON escaping needed.
  e.details.emplace_back("quota", "\"" + quota + "\"");
  e.details.emplace_back("tenant", "\"" + tenant + "\"");
  e.details.emplace_back("limit", std::to_string(limit));
  e.retry_after = retry_after;
  return e;
}

http_error tenant_jobs_quota(const std::string& tenant, std::uint64_t limit) {
  return tenant_quota_exceeded("jobs", tenant, limit,
                               "has " + std::to_string(limit) +
                                   " launched jobs queued or running (its max_jobs); wait for "
                                   "one to end or DELETE one",
                               "1");
}

}  // namespace evald
