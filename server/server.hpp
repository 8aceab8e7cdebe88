#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "server/net.hpp"
#include "server/router.hpp"
#include "server/session.hpp"
#include "server/tenant.hpp"
#include "server/tls.hpp"

namespace evald {

class worker;
class service_watch;
class listener;

// The I/O backend (io_uring) could not start; main() exits with status 3.
struct backend_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Owns the workers and listeners and runs the process lifecycle: start, serve,
// graceful drain on SIGINT/SIGTERM, exit.
class server {
 public:
  // Creates the workers and binds every listener; throws backend_error or
  // std::runtime_error (e.g. address in use) on failure.
  server(const config::settings& settings, const router& routes);
  ~server();

  // Serves until drained; worker 0 runs on the calling thread. Returns the exit status.
  int run();
  // The workers (created by the constructor, running inside run()).
  std::vector<worker*> workers() const;
  // Runs on SIGHUP (on worker 0), between RELOADING=1 and READY=1: re-read what
  // can change without a restart. Log files are reopened after it.
  void on_reload(std::function<void()> reload) { reload_ = std::move(reload); }
  // Runs when the drain begins (on worker 0): stop work no connection waits for.
  void on_drain(std::function<void()> drain) { drain_ = std::move(drain); }
  // Work without a connection that the drain must wait for (a cluster job handing
  // itself back to the queue): the process stops only once every hold is released,
  // or at timeouts.shutdown. Any thread.
  void hold_drain() noexcept { drain_holds_.fetch_add(1); }
  // What serves a connection on a raw TCP (chargen) listener; set before run().
  using tcp_service = net::awaitable<void> (*)(tcp::socket, worker&, const config::settings&);
  void on_chargen_connection(tcp_service serve) { chargen_service_ = serve; }
  // Appended to the systemd status line (e.g. the cluster link's state); any thread.
  void on_status(std::function<std::string()> detail) { status_detail_ = std::move(detail); }
  void release_drain();
  // Who sent a request, for routes that need a scope; set before run(), outlives it.
  void set_authenticator(const authenticator& auth) { shared_.auth = &auth; }
  // Every tenant's accounts (quotas, weights, counters), shared by all workers.
  tenant_registry& tenants() noexcept { return tenants_; }
  // The local addresses of the HTTP listeners (bound by the constructor).
  std::vector<tcp::endpoint> http_endpoints() const;

 private:
  void bind_listeners();
  void start_accepting();
  void wait_for_signals();
  void reload();
  std::string status_line() const;
  void begin_drain();
  void on_worker_drained();
  void stop_all();

  const config::settings& settings_;
  http_shared shared_;
  std::atomic<std::uint32_t> open_connections_{0};
  tenant_registry tenants_;  // before the workers: their queued work refers to it
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::unique_ptr<tcp::acceptor>> http_acceptors_;
  // The TLS listeners' certificates, and for each HTTP acceptor its endpoint (nullptr:
  // plain HTTP).
  std::vector<std::unique_ptr<tls_endpoint>> tls_endpoints_;
  std::vector<tls_endpoint*> http_tls_;
  std::vector<std::unique_ptr<tcp::acceptor>> chargen_acceptors_;
  std::vector<std::unique_ptr<listener>> listeners_;  // one per acceptor, same thread
  std::unique_ptr<net::signal_set> signals_;
  std::unique_ptr<service_watch> service_watch_;
  std::function<void()> reload_;
  std::function<void()> drain_;
  std::function<std::string()> status_detail_;
  tcp_service chargen_service_ = nullptr;
  std::unique_ptr<net::steady_timer> shutdown_timer_;
  std::size_t drained_workers_ = 0;
  std::atomic<std::uint32_t> drain_holds_{0};
  void stop_when_drained();            // on worker 0
  std::atomic<bool> draining_{false};  // set on worker 0, read by release_drain() anywhere
  bool stopped_ = false;
};

std::size_t default_worker_count();

}  // namespace evald
