#pragma once
#include "config/settings.hpp"
#include "server/access_log.hpp"
#include "server/auth.hpp"
#include "server/net.hpp"
#include "server/router.hpp"
#include "server/tls.hpp"

namespace evald {

class worker;

// Read-only after start-up; shared by every worker without locks.
struct http_shared {
  const config::settings& settings;
  const router& routes;
  access_format access = access_format::off;
  const authenticator* auth = nullptr;  // who sent a request, for routes that need a scope
};

// One HTTP/1.1 connection from accept to close, on `owner`'s thread: read →
// parse (fresh parser per request, with limits) → route → write, keep-alive and
// pipelining (responses in order, one write in flight, batched into one send). With
// `tls` (a TLS listener): the TLS handshake first, within timeouts.handshake; the
// connection keeps that context until it closes.
// `certificate_scopes`: with a client CA, the scopes of the tenant a client
// certificate names (0: none).
net::awaitable<void> serve_http(tcp::socket socket, worker& owner, const http_shared& shared,
                                std::shared_ptr<tls_context> tls = nullptr,
                                scope_set certificate_scopes = 0);

}  // namespace evald
