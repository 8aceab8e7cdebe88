// Asio and Beast are compiled once, here (BOOST_*_SEPARATE_COMPILATION).
#if defined(BOOST_ASIO_HAS_IO_URING)
#include "server/uring_setup.hpp"
// Only this translation unit holds Asio's ring set-up code; the rename makes its
// one io_uring_queue_init call use evald's flags (see uring_setup.cpp).
#define io_uring_queue_init evald_io_uring_queue_init
#endif
#include <boost/asio/impl/src.hpp>
#if EVALD_HAS_TLS
#include <boost/asio/ssl/impl/src.hpp>
#endif
#include <boost/beast/src.hpp>
