#include "server/server.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "config/load.hpp"
#include "server/listener.hpp"
#include "server/logging.hpp"
#include "server/platform.hpp"
#include "server/service_watch.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

// Sweep often enough that a deadline is enforced within a quarter of the
// shortest timeout, but never busier than every 10 ms.
std::chrono::milliseconds sweep_interval(const config::timeouts_settings& t) {
  // Not drain_idle: it matters once per process, and a shorter one would make every
  // sweep of the process's life more frequent; the grace may end up to a tick late.
  const auto shortest = std::min({t.header, t.keep_alive, t.body, t.write_stall});
  return std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
}

std::string endpoint_url(const tcp::endpoint& ep, const char* scheme) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return std::string(scheme) + host + ":" + std::to_string(ep.port());
}

std::unique_ptr<tcp::acceptor> open_listener(net::io_context& ctx, const std::string& text) {
  const auto parsed = config::parse_endpoint(text);
  error_code ec;
  const auto address = net::ip::make_address(parsed.host, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + text + ": " + ec.message());
  }
  const tcp::endpoint endpoint(address, parsed.port);
  auto acceptor = std::make_unique<tcp::acceptor>(ctx);
  auto check = [&](const char* step) {
    if (ec) {
      throw std::runtime_error("cannot listen on " + text + " (" + step + "): " + ec.message());
    }
  };
  acceptor->open(endpoint.protocol(), ec);
  check("socket");
  acceptor->set_option(net::socket_base::reuse_address(true), ec);
  check("SO_REUSEADDR");
  if (address.is_v6()) {
    acceptor->set_option(net::ip::v6_only(true), ec);
    check("IPV6_V6ONLY");
  }
  acceptor->bind(endpoint, ec);
  check("bind");
  acceptor->listen(net::socket_base::max_listen_connections, ec);
  check("listen");
  return acceptor;
}

void log_unexpected(std::exception_ptr e) {
  if (!e) {
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("connection ended by an unexpected error: {}", ex.what());
  }
}

}  // namespace

std::size_t default_worker_count() {
  return platform::usable_cpu_count();
}

server::server(const config::settings& settings, const router& routes)
    : settings_(settings),
      shared_{settings, routes, parse_access_format(settings.logging.access)},
      tenants_(settings.tenants.defaults) {
  const std::size_t count = settings.threads != 0 ? settings.threads : default_worker_count();
  const auto interval = sweep_interval(settings.timeouts);
  try {
    for (std::size_t i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<worker>(i, open_connections_, interval));
      workers_.back()->set_fair_share(settings_.tenants.fair);
      workers_.back()->set_tenants(&tenants_);
    }
  } catch (const boost::system::system_error& e) {
    throw backend_error(std::string("cannot start the ") + backend_name + " backend: " + e.what() +
                        ". io_uring is blocked here (a container seccomp profile, or sysctl "
                        "kernel.io_uring_disabled). Allow it (docker/seccomp.json, "
                        "kernel.io_uring_disabled=0) or build with -DEVALD_IO_BACKEND=epoll.");
  }
  std::vector<worker*> all;
  for (auto& w : workers_) {
    all.push_back(w.get());
  }
  for (auto& w : workers_) {
    w->set_peers(all);
  }
  // Signals are caught from here on: the "listening" line below tells scripts they
  // may signal us, and a SIGHUP before this would kill the process (default action).
  signals_ = std::make_unique<net::signal_set>(workers_.front()->context(), SIGINT, SIGTERM);
#ifdef SIGHUP
  signals_->add(SIGHUP);
#endif
  bind_listeners();
}

server::~server() {
  // Acceptors, timers and the signal set belong to the workers' contexts: release them first.
  service_watch_.reset();
  signals_.reset();
  shutdown_timer_.reset();
  http_acceptors_.clear();
  chargen_acceptors_.clear();
  workers_.clear();
}

std::vector<tcp::endpoint> server::http_endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : http_acceptors_) {
    error_code ec;
    const auto ep = a->local_endpoint(ec);
    if (!ec) {
      out.push_back(ep);
    }
  }
  return out;
}

void server::bind_listeners() {
  net::io_context& ctx = workers_.front()->context();
  // TLS first: a certificate that does not load stops the start before any socket.
  std::map<std::size_t, tls_endpoint*> tls_by_index;
  for (const auto& [index, tls] : settings_.listen_tls) {
    tls_endpoints_.push_back(std::make_unique<tls_endpoint>(tls));
    tls_by_index.emplace(index, tls_endpoints_.back().get());
  }
  // Socket activation: systemd bound the sockets; evald never creates a listener
  // itself then (the unit may forbid socket() entirely). FileDescriptorName=chargen
  // marks a raw chargen socket; every other one serves HTTP.
  const auto inherited = platform::take_inherited_listeners();
  for (const auto& l : inherited) {
    auto acceptor = std::make_unique<tcp::acceptor>(ctx);
    error_code ec;
    acceptor->assign(l.ipv6 ? tcp::v6() : tcp::v4(), l.fd, ec);
    if (ec) {
      throw std::runtime_error("cannot adopt socket-activation fd " + std::to_string(l.fd) + ": " +
                               ec.message());
    }
    if (l.name == "chargen") {
      chargen_acceptors_.push_back(std::move(acceptor));
      continue;
    }
    // FileDescriptorName=https: a TLS socket, with the first TLS listen entry's files.
    tls_endpoint* tls = nullptr;
    if (l.name == "https") {
      if (tls_endpoints_.empty()) {
        throw std::runtime_error(
            "socket activation passed a socket named \"https\", but no listen entry has "
            "\"tls\" (its certificate and key)");
      }
      tls = tls_endpoints_.front().get();
    }
    http_acceptors_.push_back(std::move(acceptor));
    http_tls_.push_back(tls);
  }
  if (!inherited.empty()) {
    spdlog::info(
        "socket activation: {} listening socket(s) from the service manager; "
        "the configured listen addresses are not used",
        inherited.size());
  } else {
    for (std::size_t i = 0; i < settings_.listen.size(); ++i) {
      http_acceptors_.push_back(open_listener(ctx, settings_.listen[i]));
      const auto tls = tls_by_index.find(i);
      http_tls_.push_back(tls == tls_by_index.end() ? nullptr : tls->second);
    }
    for (const auto& text : settings_.chargen.tcp_listen) {
      chargen_acceptors_.push_back(open_listener(ctx, text));
    }
  }
  // Machine-readable, for scripts and tests that asked for port 0.
  for (std::size_t i = 0; i < http_acceptors_.size(); ++i) {
    std::printf("evald: listening on %s\n",
                endpoint_url(http_acceptors_[i]->local_endpoint(),
                             http_tls_[i] != nullptr ? "https://" : "http://")
                    .c_str());
  }
  for (const auto& a : chargen_acceptors_) {
    std::printf("evald: chargen on %s\n", endpoint_url(a->local_endpoint(), "tcp://").c_str());
  }
  std::fflush(stdout);
}

void server::start_accepting() {
  std::vector<worker*> targets;
  for (auto& w : workers_) {
    targets.push_back(w.get());
  }
  net::io_context& ctx = workers_.front()->context();
  auto add = [&](tcp::acceptor& acceptor, connection_starter start) {
    listeners_.push_back(std::make_unique<listener>(acceptor, targets, open_connections_,
                                                    settings_.limits.max_connections,
                                                    std::move(start), workers_.front()->metrics()));
    net::co_spawn(ctx, listeners_.back()->accept_loop(), log_unexpected);
  };
  for (std::size_t i = 0; i < http_acceptors_.size(); ++i) {
    tls_endpoint* tls = http_tls_[i];
    add(*http_acceptors_[i], [this, tls](tcp::socket s, worker& w) {
      net::co_spawn(w.context(),
                    serve_http(std::move(s), w, shared_, tls ? tls->context() : nullptr,
                               tls ? tls->client_scopes() : 0),
                    log_unexpected);
    });
  }
  for (auto& acceptor : chargen_acceptors_) {
    add(*acceptor, [this](tcp::socket s, worker& w) {
      if (chargen_service_ == nullptr) {
        return;  // nobody serves raw TCP: the socket closes
      }
      net::co_spawn(w.context(), chargen_service_(std::move(s), w, settings_), log_unexpected);
    });
  }
}

void server::wait_for_signals() {
  signals_->async_wait([this](const error_code& ec, int signo) {
    if (ec) {
      return;
    }
#ifdef SIGHUP
    if (signo == SIGHUP) {
      reload();
      wait_for_signals();
      return;
    }
#endif
    spdlog::info("received {}", signo == SIGINT ? "SIGINT" : "SIGTERM");
    begin_drain();
    wait_for_signals();
  });
}

void server::reload() {
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  platform::notify_service_manager("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(now_us));
  spdlog::info("SIGHUP: reopening log files and re-reading the log level");
  for (const auto& tls : tls_endpoints_) {
    // All or nothing per listener: new connections get the new files, live ones keep
    // the context they started with.
    const std::string problem = tls->reload();
    if (problem.empty()) {
      spdlog::info("TLS certificates reloaded: {}", tls->settings().certificates.front().cert);
    } else {
      spdlog::error("TLS certificates not reloaded, the previous ones stay in force: {}", problem);
    }
  }
  try {
    if (reload_) {
      reload_();
    }
  } catch (const std::exception& e) {
    // A broken config file must not take a running server down: keep the old settings.
    spdlog::error("reload failed, keeping the current settings: {}", e.what());
  }
  reopen_log_files();
  platform::notify_service_manager("READY=1\nSTATUS=" + status_line());
}

std::string server::status_line() const {
  std::uint64_t requests = 0;
  for (const auto& w : workers_) {
    for (const auto& r : w->metrics().routes) {
      for (const auto& c : r.by_status_class) {
        requests += c.get();
      }
    }
  }
  return std::string(draining_ ? "draining" : "serving") + ": " +
         std::to_string(open_connections_.load(std::memory_order_relaxed)) + " open connections, " +
         std::to_string(requests) + " requests answered, " + std::to_string(workers_.size()) +
         " workers (" + backend_name + ")" + (status_detail_ ? status_detail_() : "");
}

void server::begin_drain() {
  if (draining_) {
    spdlog::warn("second signal during drain: exiting now");
    shutdown_logging();
    std::fflush(stdout);
    std::_Exit(1);
  }
  draining_ = true;
  platform::notify_service_manager("STOPPING=1\nSTATUS=" + status_line());
  spdlog::info("draining: {} open connections, up to {} ms",
               open_connections_.load(std::memory_order_relaxed),
               settings_.timeouts.shutdown.count());
  if (drain_) {
    drain_();
  }
  // Before the workers' drain is posted, so the connections taken from the
  // backlogs reach their workers first.
  for (auto& l : listeners_) {
    l->stop();
  }
  shutdown_timer_ = std::make_unique<net::steady_timer>(workers_.front()->context());
  shutdown_timer_->expires_after(settings_.timeouts.shutdown);
  shutdown_timer_->async_wait([this](const error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    spdlog::warn("shutdown timeout: closing {} remaining connections",
                 open_connections_.load(std::memory_order_relaxed));
    for (auto& w : workers_) {
      net::post(w->context(), [w = w.get()] { w->force_close_all(); });
    }
    // Forced connections end within a loop turn; do not wait on them forever.
    shutdown_timer_->expires_after(std::chrono::seconds(1));
    shutdown_timer_->async_wait([this](const error_code& e) {
      if (!e) {
        stop_all();
      }
    });
  });
  const auto idle_deadline = std::chrono::steady_clock::now() + settings_.timeouts.drain_idle;
  for (auto& w : workers_) {
    worker* target = w.get();
    net::post(target->context(), [this, target, idle_deadline] {
      target->begin_drain(idle_deadline, [this] {
        net::post(workers_.front()->context(), [this] { on_worker_drained(); });
      });
    });
  }
}

void server::on_worker_drained() {
  ++drained_workers_;
  stop_when_drained();
}

void server::stop_when_drained() {
  if (drained_workers_ == workers_.size() && drain_holds_.load() == 0 && !stopped_) {
    spdlog::info("drained");
    stop_all();
  }
}

void server::release_drain() {
  if (drain_holds_.fetch_sub(1) == 1 && draining_.load()) {
    net::post(workers_.front()->context(), [this] { stop_when_drained(); });
  }
}

void server::stop_all() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  for (auto& w : workers_) {
    w->stop();
  }
}

std::vector<worker*> server::workers() const {
  std::vector<worker*> all;
  for (const auto& w : workers_) {
    all.push_back(w.get());
  }
  return all;
}

int server::run() {
  start_accepting();
  wait_for_signals();
  std::string addresses;
  for (std::size_t i = 0; i < http_acceptors_.size(); ++i) {
    addresses += (addresses.empty() ? "" : ", ") +
                 endpoint_url(http_acceptors_[i]->local_endpoint(),
                              http_tls_[i] != nullptr ? "https://" : "http://");
  }
  spdlog::info("evald {} started: backend={} workers={} listen={}", EVALD_VERSION, backend_name,
               workers_.size(), addresses);
  std::vector<worker*> all;
  for (auto& w : workers_) {
    all.push_back(w.get());
  }
  service_watch_ = std::make_unique<service_watch>(all, [this] { return status_line(); });
  service_watch_->start();
  // The listeners are bound and accepting as soon as the loops run: tell systemd.
  platform::notify_service_manager("READY=1\nSTATUS=" + status_line());
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    workers_[i]->start_thread();
  }
  workers_.front()->run();
  for (auto& w : workers_) {
    w->join();
  }
  spdlog::info("evald stopped");
  return 0;
}

}  // namespace evald
