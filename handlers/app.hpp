#pragma once
#include <functional>
#include <memory>

#include "config/settings.hpp"

namespace evald {

// The composition root: builds the server, picks the backend (memory, or Redis when
// cluster.redis is set) in one place, builds the dashboard's sampler, registers the
// routes and owns their start, drain and close. main() keeps config, logging and
// the run loop.
class app {
 public:
  // Throws config_error for a setting only a running backend can judge (an unusable
  // cluster.redis), backend_error (io_uring) or std::runtime_error (a bind).
  explicit app(const config::settings& settings);
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  // Runs on SIGHUP, on worker 0 (after the keys file is read again).
  void on_reload(std::function<void()> reload);
  // Serves until drained; returns the exit status.
  int run();

 private:
  struct parts;
  static void reload_keys(parts& p);
  std::unique_ptr<parts> parts_;
};

}  // namespace evald
