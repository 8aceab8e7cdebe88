#pragma once
#include <cstdint>
#include <string>

#include "server/http_error.hpp"

namespace evald {

// A backend could not reach its engine (Redis): 503 with Retry-After, the one error
// every store throws for it.
http_error store_unavailable();
// The same, naming why (e.g. "Redis refused evald's credentials"; never a secret).
http_error store_unavailable(const std::string& cause);

// The job store holds as much as it may: 503 with Retry-After.
http_error job_store_full();

// An Idempotency-Key sent again with a different request (422, as
// draft-ietf-httpapi-idempotency-key-header says).
http_error idempotency_key_reused();

// A tenant at one of its storage quotas (`quota`: "jobs", "scripts" or
// "script_bytes"): 429 quota_exceeded naming the quota, its limit and the tenant,
// as the rate quotas do; Retry-After where waiting helps (a job ends).
http_error tenant_quota_exceeded(const std::string& quota, const std::string& tenant,
                                 std::uint64_t limit, const std::string& message,
                                 const std::string& retry_after = "");
// The tenant has `limit` launched jobs queued or running (its max_jobs).
http_error tenant_jobs_quota(const std::string& tenant, std::uint64_t limit);

}  // namespace evald
