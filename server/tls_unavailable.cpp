// The Windows build: no OpenSSL from Debian's registry for mingw, so no TLS listener
// (the server refuses one at start, naming why).
#include <stdexcept>

#include "server/tls.hpp"

namespace evald {

bool tls_available() noexcept {
  return false;
}

tls_endpoint::tls_endpoint(config::tls_settings settings) : settings_(std::move(settings)) {
  throw std::runtime_error(
      "TLS listeners need OpenSSL, which this Windows build does not have; terminate TLS in "
      "a proxy in front of evald (docs/operations.md)");
}

tls_endpoint::~tls_endpoint() = default;

std::shared_ptr<tls_context> tls_endpoint::context() const {
  return nullptr;
}

scope_set tls_endpoint::client_scopes() const noexcept {
  return 0;
}

std::string tls_endpoint::reload() {
  return "this build has no TLS";
}

}  // namespace evald
