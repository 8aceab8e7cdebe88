#include <chrono>

#include "handlers/endpoints.hpp"
#include "handlers/kernels/primality.hpp"
#include "handlers/kernels/trial_division.hpp"
#include "handlers/params.hpp"
#include "server/http_error.hpp"

namespace evald::endpoints {
namespace {

// Candidates tried between two looks at the clock: ~10–40 µs of divisions.
constexpr std::uint64_t trial_step = 4096;

}  // namespace

net::awaitable<void> prime(request_context& ctx, response& res) {
  check_query_params(ctx.query, {"n", "method"});
  const std::uint64_t n = require_u64(ctx.query, "n");
  std::string_view method = "auto";
  if (const std::string* m = ctx.query.find("method")) {
    method = *m;
  }
  if (method == "auto" || method == "miller-rabin") {
    const bool is_prime = kernels::is_prime_u64(n);
    res.body = R"({"n":)" + u64_json(n) + R"(,"prime":)" + (is_prime ? "true" : "false") +
               R"(,"method":"miller-rabin"})";
    co_return;
  }
  if (method != "trial") {
    throw bad_request("method must be auto, miller-rabin or trial, not \"" + std::string(method) +
                      "\"");
  }
  // Sliced: after each slice of CPU time, yield so this worker's queued I/O
  // completions (other connections) run before the next slice.
  kernels::trial_division trial(n);
  const auto slice = ctx.settings.prime.slice;
  auto slice_start = std::chrono::steady_clock::now();
  while (!trial.step(trial_step)) {
    const auto now = std::chrono::steady_clock::now();
    if (now - slice_start >= slice) {
      co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
      slice_start = std::chrono::steady_clock::now();
    }
  }
  const std::uint64_t factor = trial.smallest_factor();
  res.body = R"({"n":)" + u64_json(n) + R"(,"prime":)" + (trial.is_prime() ? "true" : "false") +
             R"(,"method":"trial","factor":)" + (factor != 0 ? u64_json(factor) : "null") +
             R"(,"divisors_checked":)" + u64_json(trial.divisors_checked()) + "}";
}

}  // namespace evald::endpoints
