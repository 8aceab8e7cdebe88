#pragma once
#include <string>

#include "handlers/store/job_store.hpp"
#include "handlers/store/script_store.hpp"
#include "server/net.hpp"

namespace evald {

class worker;
class exposition_writer;

// Where launched jobs and named scripts live: the memory backend (one process) or
// the Redis backend (a cluster). The composition root (handlers/app.cpp) builds one
// and is the only code that knows which; handlers see the interfaces alone.
class backend {
 public:
  virtual ~backend() = default;
  // The stores for worker `w`, used on its thread only.
  virtual job_store& jobs(const worker& w) = 0;
  virtual script_store& scripts(const worker& w) = 0;
  // GET /readyz on worker `w`: the body when this node can take work; throws
  // store_unavailable when it cannot.
  virtual net::awaitable<std::string> ready(const worker& w) = 0;
  // Before the workers run: starts the backend's own loops.
  virtual void start() = 0;
  // When the drain begins (worker 0): memory cancels its jobs; Redis hands its running
  // jobs back to the queue (the drain waits for that).
  virtual void drain() = 0;
  // After the server stopped, before the workers are destroyed.
  virtual void close() = 0;
  // Its own /metrics families (any worker's thread).
  virtual void write_metrics(exposition_writer& w) = 0;
  // Appended to the systemd status line (", cluster connected"), or "".
  virtual std::string status_suffix() const = 0;
};

}  // namespace evald
