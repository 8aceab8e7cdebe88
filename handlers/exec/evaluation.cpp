#include "handlers/exec/evaluation.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "server/http_error.hpp"
#include "server/tenant.hpp"
#include "server/worker.hpp"

namespace evald {

evaluation::evaluation(request_context& ctx, std::optional<std::uint64_t> timeout_ms)
    : evaluation(ctx.owner, ctx.settings, timeout_ms,
                 ctx.who != nullptr ? ctx.who->account : nullptr) {
  watch_ = &ctx.watch;
  cpu_report_ = &ctx.offloaded_cpu;
}

evaluation::evaluation(worker& owner, const config::settings& settings,
                       std::optional<std::uint64_t> timeout_ms,
                       std::shared_ptr<tenant_account> tenant)
    : owner_(owner),
      settings_(settings),
      watch_(nullptr),
      start_(std::chrono::steady_clock::now()),
      tenant_(std::move(tenant)) {
  auto& in_flight = owner.evaluations_in_flight();
  if (in_flight >= settings.limits.max_evaluations) {
    owner.metrics().admission_rejected.add();
    http_error e(http::status::service_unavailable, "overloaded",
                 "too many evaluations in progress; retry later");
    e.retry_after = "1";
    throw e;
  }
  ++in_flight;
  owner.metrics().evaluations_in_flight.add();
  const auto cap = settings.limits.max_eval_time;
  const auto wanted = timeout_ms ? std::chrono::milliseconds(std::min<std::uint64_t>(
                                       *timeout_ms, static_cast<std::uint64_t>(cap.count())))
                                 : cap;
  deadline_ = start_ + wanted;
}

evaluation::~evaluation() {
  --owner_.evaluations_in_flight();
  worker_metrics& m = owner_.metrics();
  m.evaluations_in_flight.sub();
  m.evaluations.add();
  m.evaluation_wall_ns.add(static_cast<std::uint64_t>(wall().count()));
  m.evaluation_cpu_ns.add(static_cast<std::uint64_t>(cpu_.count()));
  if (cpu_report_ != nullptr) {
    *cpu_report_ += cpu_;
  }
}

std::size_t evaluation::workers() const noexcept {
  return owner_.peers().size();
}

std::chrono::nanoseconds evaluation::wall() const noexcept {
  return std::chrono::steady_clock::now() - start_;
}

std::string evaluation::server_timing() const {
  return format_server_timing(wall(), cpu_, queue_);
}

std::string format_server_timing(std::chrono::nanoseconds wall, std::chrono::nanoseconds cpu,
                                 std::chrono::nanoseconds queue) {
  // Milliseconds with three decimals, written as integers: snprintf's %f was a
  // visible share of a tiny script evaluation.
  std::string out;
  out.reserve(64);
  const auto append_ms = [&out](std::string_view name, std::chrono::nanoseconds d) {
    const std::int64_t us = std::max<std::int64_t>(0, (d.count() + 500) / 1000);
    char buf[24];
    out.append(name).append(";dur=");
    out.append(buf, std::to_chars(buf, buf + sizeof buf, us / 1000).ptr);
    const auto frac = static_cast<int>(us % 1000);
    const char digits[4] = {static_cast<char>('0' + frac / 100),
                            static_cast<char>('0' + frac / 10 % 10),
                            static_cast<char>('0' + frac % 10), '\0'};
    out.append(".").append(digits);
  };
  append_ms("wall", wall);
  out.append(", ");
  append_ms("cpu", cpu);
  out.append(", ");
  append_ms("queue", queue);
  return out;
}

void add_inline_server_timing(response& res, std::chrono::steady_clock::time_point start) {
  // Computed on the request's own thread with nothing else in between: wall is CPU.
  const auto spent = std::chrono::steady_clock::now() - start;
  res.add_header("Server-Timing", format_server_timing(spent, spent, {}));
}

void evaluation::finish(response& res) const {
  res.add_header("Server-Timing", server_timing());
}

bool evaluation::try_inline(parallel_job& job) {
  const auto start = std::chrono::steady_clock::now();
  const bool done = job.try_inline(start + settings_.eval.slice / 4, owner_.metrics());
  // The worker's thread ran nothing else meanwhile: its wall time is this CPU time.
  const auto spent = std::chrono::steady_clock::now() - start;
  cpu_ += spent;
  owner_.metrics().compute_ns.add(static_cast<std::uint64_t>(spent.count()));
  if (tenant_) {
    tenant_->charge_compute(spent, owner_.index());
  }
  return done;
}

net::awaitable<void> evaluation::run(std::shared_ptr<parallel_job> job) {
  const auto now = std::chrono::steady_clock::now();
  auto deadline_hit = std::make_shared<bool>(false);
  net::steady_timer deadline(co_await net::this_coro::executor, deadline_);
  if (deadline_ <= now) {
    *deadline_hit = true;
    job->request_stop();
  } else {
    deadline.async_wait([job, deadline_hit](const error_code& ec) {
      if (!ec) {
        *deadline_hit = true;
        job->request_stop();
      }
    });
  }
  job->set_tenant(tenant_);
  if (on_job) {
    on_job(job);
  }
  if (watch_ != nullptr) {
    watch_->on_client_gone([job] { job->request_stop(); });
  }
  const auto peers = owner_.peers();
  const auto self = std::find(peers.begin(), peers.end(), &owner_);
  co_await job->run(peers,
                    self == peers.end() ? 0 : static_cast<std::size_t>(self - peers.begin()));
  deadline.cancel();
  cpu_ += job->cpu_time();
  queue_ += job->queue_time();
  if (*deadline_hit) {
    owner_.metrics().count(timeout_kind::evaluation);
    http_error e(
        http::status::gateway_timeout, "deadline_exceeded",
        "evaluation stopped at its deadline of " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - start_).count()) +
            " ms");
    e.add_sibling("progress", job->progress());
    e.server_timing = server_timing();
    throw e;
  }
  if (watch_ != nullptr && watch_->client_gone()) {
    throw http_error(http::status::bad_request, "client_closed_request",
                     "the client closed the connection");
  }
  if (job->stop_requested()) {
    throw http_error(http::status::conflict, "cancelled", "the evaluation was cancelled");
  }
}

}  // namespace evald
