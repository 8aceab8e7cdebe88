#include "server/worker.hpp"

#include <string>

#include "server/connection.hpp"
#include "server/platform.hpp"

namespace evald {

worker::worker(std::size_t index, std::atomic<std::uint32_t>& open_connections,
               std::chrono::milliseconds sweep_interval)
    : index_(index),
      open_connections_(open_connections),
      sweep_interval_(sweep_interval),
      context_(std::make_unique<net::io_context>(1)) {
  work_guard_.emplace(context_->get_executor());
  // The first I/O object makes the backend start (io_uring_setup on Linux); a
  // failure throws here, at start-up, not on the first request.
  sweep_timer_.emplace(*context_);
  schedule_sweep();
}

worker::~worker() {
  join();
  // No drain callbacks from connections destroyed below: the loop is gone.
  draining_ = false;
  on_drained_ = nullptr;
  // Pending coroutines (and their connections) are destroyed with the context,
  // while this worker's members are still alive.
  sweep_timer_.reset();
  work_guard_.reset();
  context_.reset();
}

void worker::run() {
  metrics_->cpu_clock.store(platform::current_thread_cpu_clock(), std::memory_order_relaxed);
  metrics_->cpu_clock_valid.store(true, std::memory_order_release);
  net::io_context& ctx = *context_;
  const auto mark_turn = [this] {
    last_turn_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                     std::memory_order_relaxed);
  };
  while (!ctx.stopped()) {
    mark_turn();
    if (compute_.empty()) {
      waiting_.store(true, std::memory_order_relaxed);
      ctx.run_one();  // block until something happens
      mark_turn();    // first: between the two, the old turn would read as a stall
      waiting_.store(false, std::memory_order_relaxed);
    }
    ctx.poll();  // everything ready, I/O completions included, before any compute
    if (!compute_.empty() && !ctx.stopped()) {
      run_compute_slice();
    }
  }
  // The clock dies with the thread; scrapes after this report 0 for the worker.
  metrics_->cpu_clock_valid.store(false, std::memory_order_release);
}

void worker::start_thread() {
  thread_ = std::thread([this] {
    const std::string name = "evald-w" + std::to_string(index_);
    platform::set_current_thread_name(name);
    run();
  });
}

void worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void worker::stop() {
  context_->stop();
}

void worker::attach(connection& c) noexcept {
  c.prev_in_worker = nullptr;
  c.next_in_worker = connections_;
  if (connections_ != nullptr) {
    connections_->prev_in_worker = &c;
  }
  connections_ = &c;
  ++connection_count_;
  metrics_->connections_open.set(connection_count_);
}

void worker::detach(connection& c, bool counted) noexcept {
  if (c.prev_in_worker != nullptr) {
    c.prev_in_worker->next_in_worker = c.next_in_worker;
  } else {
    connections_ = c.next_in_worker;
  }
  if (c.next_in_worker != nullptr) {
    c.next_in_worker->prev_in_worker = c.prev_in_worker;
  }
  c.prev_in_worker = c.next_in_worker = nullptr;
  --connection_count_;
  metrics_->connections_open.set(connection_count_);
  if (counted) {
    open_connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (draining_) {
    maybe_drained();
  }
}

void worker::begin_drain(std::chrono::steady_clock::time_point idle_deadline,
                         std::function<void()> on_drained) {
  draining_ = true;
  drain_idle_deadline_ = idle_deadline;
  on_drained_ = std::move(on_drained);
  for (connection* c = connections_; c != nullptr;) {
    connection* next = c->next_in_worker;  // on_drain() never destroys synchronously
    c->on_drain();
    c = next;
  }
  maybe_drained();
}

void worker::maybe_drained() {
  if (connection_count_ == 0 && on_drained_) {
    // Post, so the callback never runs inside a connection's destructor.
    net::post(*context_, std::exchange(on_drained_, nullptr));
  }
}

void worker::force_close_all() noexcept {
  for (connection* c = connections_; c != nullptr; c = c->next_in_worker) {
    c->force_close();
  }
}

std::string worker::next_request_id() {
  return std::to_string(index_) + "-" + std::to_string(++request_sequence_);
}

void worker::enqueue_compute(compute_scheduler::slice slice, tenant_account* tenant) {
  compute_.enqueue(tenant, std::move(slice));
  metrics_->compute_queued.set(compute_.size());
}

void worker::run_compute_slice() {
  compute_.run_one();
  metrics_->compute_queued.set(compute_.size());
}

void worker::schedule_sweep() {
  sweep_timer_->expires_after(sweep_interval_);
  sweep_timer_->async_wait([this](const error_code& ec) {
    if (ec) {
      return;
    }
    sweep();
    schedule_sweep();
  });
}

void worker::count_timeout(wait_phase phase) noexcept {
  switch (phase) {
    case wait_phase::idle:
      metrics_->count(timeout_kind::keep_alive);
      break;
    case wait_phase::header:
      metrics_->count(timeout_kind::header);
      break;
    case wait_phase::body:
      metrics_->count(timeout_kind::body);
      break;
    case wait_phase::write:
      metrics_->count(timeout_kind::write);
      break;
    case wait_phase::linger:
      metrics_->count(timeout_kind::linger);
      break;
    case wait_phase::handshake:
      metrics_->count(timeout_kind::handshake);
      break;
    case wait_phase::none:
      break;
  }
}

// One timer per worker instead of one per connection: setting a deadline is a
// plain store on the hot path, and the sweep costs O(connections) per tick.
void worker::sweep() noexcept {
  const auto now = steady_clock::now();
  for (connection* c = connections_; c != nullptr; c = c->next_in_worker) {
    if (c->phase() != wait_phase::none && c->deadline() <= now) {
      count_timeout(c->phase());
      c->expire();
    }
  }
}

}  // namespace evald
