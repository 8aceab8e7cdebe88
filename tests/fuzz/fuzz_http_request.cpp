// Request bytes through the same steps as the session: a fresh Beast parser with
// evald's limits, the RFC 9112 framing checks once the header is complete, then the
// body, the target split and the query parse; also the request-line check, the
// preconditions and the Range evaluation on whatever header arrives. Any crash, leak or UB is a
// finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "server/framing.hpp"
#include "server/net.hpp"
#include "server/preconditions.hpp"
#include "server/query.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace evald;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Feed in two pieces, as the network might, to exercise need_more paths.
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  if (const auto nl = input.find('\n'); nl != std::string_view::npos) {
    (void)check_request_line(input.substr(0, nl + 1));
  } else {
    (void)overlong_request_line(input, 8192);
  }
  request_parser parser;
  parser.header_limit(8192);
  parser.body_limit(1 << 20);
  beast::flat_buffer buffer;
  error_code ec;
  for (std::string_view piece : {input.substr(0, cut), input.substr(cut)}) {
    auto out = buffer.prepare(piece.size());
    std::memcpy(out.data(), piece.data(), piece.size());
    buffer.commit(piece.size());
    while (buffer.size() != 0) {
      const std::size_t n = parser.put(buffer.data(), ec);
      buffer.consume(n);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) {
        return 0;
      }
      if (parser.is_header_done()) {
        const auto& header = parser.get().base();
        if (has_preconditions(header)) {
          (void)evaluate_preconditions(header, strong_etag("fuzz"), true);
          (void)evaluate_preconditions(header, {}, false);
        }
        if (const auto range = header.find(http::field::range); range != header.end()) {
          (void)evaluate_range(std::string_view(range->value().data(), range->value().size()),
                               size);
        }
        (void)has_userinfo(std::string_view(header.target().data(), header.target().size()));
      }
      if (parser.is_header_done() && !parser.is_done()) {
        if (check_request_framing(parser.get().base())) {
          return 0;  // rejected: the session closes here
        }
        parser.eager(true);
      }
      if (parser.is_done()) {
        const std::string_view target(parser.get().target().data(), parser.get().target().size());
        if (valid_target_chars(target)) {
          if (const auto parts = split_target(target)) {
            try {
              (void)query_params::parse(parts->query);
            } catch (const std::invalid_argument&) {
            }
          }
        }
        return 0;
      }
    }
  }
  return 0;
}
