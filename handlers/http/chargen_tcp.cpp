#include "handlers/http/chargen_tcp.hpp"

#include "handlers/kernels/chargen_pattern.hpp"
#include "server/connection.hpp"
#include "server/worker.hpp"

namespace evald {
namespace {

class chargen_connection final : public connection {
 public:
  chargen_connection(tcp::socket socket, worker& owner, const config::settings& settings)
      : connection(std::move(socket), owner, true), settings_(settings) {}

  void on_drain() noexcept override {
    error_code ec;
    socket_.cancel(ec);  // stop at the current write; the stream has no end to reach
  }

  net::awaitable<void> run() {
    std::uint64_t pos = 0;
    while (!owner().draining()) {
      const auto window = kernels::chargen_window(pos, kernels::chargen_max_window);
      wait_for(wait_phase::write, steady_clock::now() + settings_.timeouts.write_stall);
      auto [ec, n] =
          co_await net::async_write(socket_, net::buffer(window.data(), window.size()), use_tuple);
      stop_waiting();
      if (ec) {
        close_after_failed_write();
        break;
      }
      pos += n;
      owner().metrics().chargen_tcp_bytes.add(n);
    }
    close_now();
  }

 private:
  const config::settings& settings_;
};

}  // namespace

net::awaitable<void> serve_chargen_tcp(tcp::socket socket, worker& owner,
                                       const config::settings& settings) {
  chargen_connection c(std::move(socket), owner, settings);
  co_await c.run();
}

}  // namespace evald
