#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/net.hpp"

namespace evald {

class worker;

// Keeps systemd informed while evald serves (Type=notify): a STATUS= line every few
// seconds, and WATCHDOG=1 pings when WatchdogSec= is set. The pings come from the
// workers' own loops: each worker stamps a heartbeat from a timer on its loop, and
// worker 0 pings only while every heartbeat is fresh, so one stuck loop stops the
// pings and systemd restarts the service. Nothing runs when NOTIFY_SOCKET is unset.
class service_watch {
 public:
  // `status` builds the one-line STATUS= text (on worker 0).
  service_watch(std::span<worker* const> workers, std::function<std::string()> status);
  ~service_watch();
  service_watch(const service_watch&) = delete;
  service_watch& operator=(const service_watch&) = delete;

  void start();

 private:
  struct beat {
    std::unique_ptr<net::steady_timer> timer;
    std::atomic<std::int64_t> last_ns{0};  // steady clock, written by its worker
  };
  void schedule_beat(std::size_t i);
  void schedule_report();

  std::vector<worker*> workers_;
  std::function<std::string()> status_;
  std::chrono::microseconds watchdog_;
  std::chrono::milliseconds beat_every_{0};
  std::vector<std::unique_ptr<beat>> beats_;
  std::unique_ptr<net::steady_timer> report_timer_;
  bool enabled_ = false;
};

}  // namespace evald
