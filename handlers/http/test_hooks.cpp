// Test-only endpoints, registered only when the environment has EVALD_TEST_HOOKS=1
// (never in a deployment): they let an integration test hold a worker on purpose.
#include <atomic>
#include <thread>

#include "handlers/http/endpoints.hpp"
#include "server/http_error.hpp"
#include "server/worker.hpp"

namespace evald::endpoints {
namespace {

std::atomic<bool> hold_released{true};
std::atomic<int> holding{0};  // workers spinning in the hold now

}  // namespace

// POST /_test/hold on worker 0 (the acceptor's): every other worker runs a compute
// slice that spins until POST /_test/release. Answers once the acceptor would call
// those workers stalled, so what a test does next meets a held worker for sure.
net::awaitable<void> test_hold(request_context& ctx, response& res) {
  if (ctx.owner.index() != 0) {
    throw http_error(http::status::conflict, "not_worker_0",
                     "this connection is served by worker " + std::to_string(ctx.owner.index()) +
                         "; send the hold on a new connection until worker 0 serves it");
  }
  hold_released.store(false);
  for (worker* w : ctx.owner.peers()) {
    if (w == &ctx.owner) {
      continue;
    }
    net::post(w->context(), [w] {
      w->enqueue_compute([](std::chrono::nanoseconds&) {
        holding.fetch_add(1);
        while (!hold_released.load()) {
          std::this_thread::yield();
        }
        holding.fetch_sub(1);
        return false;
      });
    });
  }
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    bool all = holding.load() == static_cast<int>(ctx.owner.peers().size()) - 1;
    for (worker* w : ctx.owner.peers()) {
      all = all && (w == &ctx.owner || w->stalled(now, std::chrono::milliseconds(20)));
    }
    if (all) {
      break;
    }
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(use_tuple);
  }
  res.body = R"({"held":true})";
}

void test_release(request_context&, response& res) {
  hold_released.store(true);
  res.body = R"({"released":true})";
}

}  // namespace evald::endpoints
