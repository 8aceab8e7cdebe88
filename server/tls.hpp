#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "config/settings.hpp"
#include "server/auth.hpp"
#include "server/net.hpp"

#if EVALD_HAS_TLS
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#endif

namespace evald {

#if EVALD_HAS_TLS
using tls_context = net::ssl::context;
using tls_stream = net::ssl::stream<tcp::socket&>;
#else
class tls_context;  // a build without OpenSSL has none
#endif

// Whether this build serves TLS (the Windows build has no OpenSSL from Debian).
bool tls_available() noexcept;

// One TLS listener's certificates as an OpenSSL context: TLS 1.2 and 1.3, Mozilla's
// "intermediate" ciphers, ALPN http/1.1, no renegotiation, session tickets whose keys
// outlive reloads and rotate every 12 hours. Every worker shares the context (OpenSSL
// contexts are thread-safe), so a ticket from one worker resumes on another.
class tls_endpoint {
 public:
  // Loads every file now; throws std::runtime_error naming the file and OpenSSL's reason.
  explicit tls_endpoint(config::tls_settings settings);
  ~tls_endpoint();
  tls_endpoint(const tls_endpoint&) = delete;
  tls_endpoint& operator=(const tls_endpoint&) = delete;

  // For a new connection, which holds it until it closes: a reload never frees a
  // context a live SSL object still uses (Asio's context destructor frees callbacks).
  std::shared_ptr<tls_context> context() const;
  // Reads the files again, all or nothing: "" when new connections get the new ones,
  // else why the current ones stay.
  std::string reload();
  const config::tls_settings& settings() const noexcept { return settings_; }
  // The scopes of a tenant named by a client certificate (0: certificates name none).
  scope_set client_scopes() const noexcept;

  struct ticket_keys;  // shared by every context this endpoint builds

 private:
  config::tls_settings settings_;
  std::shared_ptr<ticket_keys> tickets_;
  mutable std::mutex mutex_;
  std::shared_ptr<tls_context> current_;
};

#if EVALD_HAS_TLS
// The tenant the verified client certificate of `stream` names (its subject CN, when
// that is a tenant name), or "".
std::string certificate_tenant(tls_stream& stream);
#endif

}  // namespace evald
