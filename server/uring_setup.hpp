#pragma once
// Linux io_uring only. Asio 1.83 creates each ring with io_uring_queue_init(n, ring, 0);
// asio_impl.cpp routes that one call here so the ring gets the setup flags below.
#if defined(BOOST_ASIO_HAS_IO_URING)
struct io_uring;
extern "C" int evald_io_uring_queue_init(unsigned entries, struct io_uring* ring, unsigned flags);
#endif
