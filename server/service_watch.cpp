#include "server/service_watch.hpp"

#include <cstdlib>

#include "server/platform.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

constexpr std::chrono::milliseconds status_every{2000};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

service_watch::service_watch(std::span<worker* const> workers, std::function<std::string()> status)
    : workers_(workers.begin(), workers.end()),
      status_(std::move(status)),
      watchdog_(platform::service_watchdog_interval()) {
  enabled_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  if (watchdog_.count() > 0) {
    // Beat four times per watchdog period: a ping always goes out well in time.
    beat_every_ = std::max(std::chrono::milliseconds(1),
                           std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_ / 4));
  }
}

service_watch::~service_watch() = default;

void service_watch::start() {
  if (!enabled_) {
    return;
  }
  if (beat_every_.count() > 0) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      auto b = std::make_unique<beat>();
      b->timer = std::make_unique<net::steady_timer>(workers_[i]->context());
      b->last_ns.store(now_ns(), std::memory_order_relaxed);
      beats_.push_back(std::move(b));
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      net::post(workers_[i]->context(), [this, i] { schedule_beat(i); });
    }
  }
  report_timer_ = std::make_unique<net::steady_timer>(workers_.front()->context());
  net::post(workers_.front()->context(), [this] { schedule_report(); });
}

void service_watch::schedule_beat(std::size_t i) {
  beat& b = *beats_[i];
  b.timer->expires_after(beat_every_);
  b.timer->async_wait([this, i](const error_code& ec) {
    if (ec) {
      return;
    }
    beats_[i]->last_ns.store(now_ns(), std::memory_order_relaxed);
    if (i == 0) {
      // Ping only if every loop has turned within half a watchdog period.
      const std::int64_t stale_before =
          now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(watchdog_ / 2).count();
      bool all_alive = true;
      for (const auto& other : beats_) {
        all_alive = all_alive && other->last_ns.load(std::memory_order_relaxed) >= stale_before;
      }
      if (all_alive) {
        platform::notify_service_manager("WATCHDOG=1");
      }
    }
    schedule_beat(i);
  });
}

void service_watch::schedule_report() {
  platform::notify_service_manager("STATUS=" + status_());
  report_timer_->expires_after(status_every);
  report_timer_->async_wait([this](const error_code& ec) {
    if (!ec) {
      schedule_report();
    }
  });
}

}  // namespace evald
