#include "server/uring_setup.hpp"

#if defined(BOOST_ASIO_HAS_IO_URING)
#include <liburing.h>

#include <cerrno>

// COOP_TASKRUN: completions are handed to the worker when it next enters the
// kernel (it always does, to wait or submit) instead of by interrupting it, which
// on this server was a tenth of all CPU time under load. TASKRUN_FLAG lets
// liburing's non-blocking peek notice pending completions and enter the kernel
// for them, so a worker busy with compute slices still sees its I/O between slices.
// Older kernels (< 5.19) reject the flags: fall back to what Asio asked for.
extern "C" int evald_io_uring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags) {
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int result = io_uring_queue_init_params(entries, ring, &params);
  if (result == -EINVAL) {
    params = io_uring_params{};
    params.flags = flags;
    result = io_uring_queue_init_params(entries, ring, &params);
  }
  return result;
}
#endif
