#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

#include "server/net.hpp"

namespace evald {

class worker;

// What a connection is waiting for; the worker's sweep enforces the deadline of
// the current phase (none = no deadline, e.g. while a handler computes).
enum class wait_phase : std::uint8_t { none, idle, handshake, header, body, write, linger };

using steady_clock = std::chrono::steady_clock;

// A socket supervised by its worker: listed for drain and timeouts, counted
// against the connection cap. Lives and dies on its worker's thread.
class connection {
 public:
  // `counted`: holds a slot of the global connection cap (released on destruction).
  connection(tcp::socket socket, worker& owner, bool counted);
  virtual ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  worker& owner() noexcept { return owner_; }

  // Called by the worker's sweep when the deadline has passed: cancels the
  // pending operation so the coroutine sees timed_out() and answers or closes.
  void expire() noexcept;
  // Called when the worker starts draining: idle connections wait at most until
  // the worker's drain_idle_deadline() for one more request.
  virtual void on_drain() noexcept;
  // Shutdown timeout reached: end now (shutdown both ways, pending ops complete).
  void force_close() noexcept;
  // Also called by force_close(): stop work done on the connection's behalf.
  virtual void on_forced() noexcept {}

  wait_phase phase() const noexcept { return phase_; }
  steady_clock::time_point deadline() const noexcept { return deadline_; }

  // Intrusive list of the worker's connections.
  connection* prev_in_worker = nullptr;
  connection* next_in_worker = nullptr;

 protected:
  void wait_for(wait_phase p, steady_clock::time_point deadline) noexcept {
    phase_ = p;
    deadline_ = deadline;
  }
  void stop_waiting() noexcept { phase_ = wait_phase::none; }
  bool timed_out() const noexcept { return timed_out_; }
  bool drain_cancelled() const noexcept { return drain_cancelled_; }
  bool forced() const noexcept { return forced_; }
  bool has_pending_input() noexcept;
  // Ends the connection quietly: shutdown both ways, then close.
  void close_now() noexcept;
  // After a failed write: a peer that stopped reading (write-stall timeout) gets a
  // reset, which discards what is still queued for it; after a plain close the
  // kernel would keep those bytes (megabytes per socket on loopback) in an orphan
  // for minutes. Any other failure: close_now().
  void close_after_failed_write() noexcept;
  // After a final response: FIN, then read and discard what the client still
  // sends (so our response is not destroyed by a reset), for at most `timeout`.
  net::awaitable<void> linger_close(std::chrono::milliseconds timeout);

  tcp::socket socket_;

 private:
  worker& owner_;
  steady_clock::time_point deadline_{};
  wait_phase phase_ = wait_phase::none;
  bool counted_;
  bool timed_out_ = false;
  bool drain_cancelled_ = false;
  bool forced_ = false;
};

}  // namespace evald
