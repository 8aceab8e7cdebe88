// The Redis backend on a platform without the Redis client (the Windows build).
#include <stdexcept>

#include "handlers/cluster/redis_backend.hpp"

namespace evald {

std::unique_ptr<backend> make_redis_backend(const config::settings&, std::span<worker* const>,
                                            drain_hooks) {
  throw std::invalid_argument("cluster mode is not built on this platform");
}

}  // namespace evald
