#pragma once
#include "config/settings.hpp"
#include "server/net.hpp"

namespace evald {

class worker;

// RFC 864 over raw TCP (the twin of GET /chargen, for chargen.tcp_listen and
// FileDescriptorName=chargen sockets): stream the pattern until the client closes (or
// the server drains); what the client sends is ignored. Runs on `owner`.
net::awaitable<void> serve_chargen_tcp(tcp::socket socket, worker& owner,
                                       const config::settings& settings);

}  // namespace evald
