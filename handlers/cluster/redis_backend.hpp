#pragma once
#include <functional>
#include <memory>
#include <span>

#include "config/settings.hpp"
#include "handlers/store/backend.hpp"

namespace evald {

class worker;

// How a backend keeps the drain waiting while it hands its running jobs back
// (server::hold_drain / release_drain).
struct drain_hooks {
  std::function<void()> hold;
  std::function<void()> release;
};

// Cluster mode (cluster.redis set): jobs and named scripts in Redis, shared by every
// node; any node may run a job. Epochs, leases, splits and fencing stay inside.
// Throws std::invalid_argument for an unusable cluster.redis. Built on POSIX only;
// elsewhere make_redis_backend throws std::invalid_argument saying so.
std::unique_ptr<backend> make_redis_backend(const config::settings& settings,
                                            std::span<worker* const> workers, drain_hooks drain);

}  // namespace evald
