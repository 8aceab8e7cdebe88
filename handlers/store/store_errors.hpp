#pragma once
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

}  // namespace evald
