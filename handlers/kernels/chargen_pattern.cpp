#include "handlers/kernels/chargen_pattern.hpp"

#include <algorithm>
#include <array>

namespace evald::kernels {
namespace {

constexpr char line_byte(std::uint64_t pos) noexcept {
  const std::uint64_t in_period = pos % chargen_period_bytes;
  const std::uint64_t line = in_period / chargen_line_bytes;
  const std::uint64_t col = in_period % chargen_line_bytes;
  if (col == chargen_line_chars) {
    return '\r';
  }
  if (col == chargen_line_chars + 1) {
    return '\n';
  }
  return static_cast<char>(32 + (line + 1 + col) % chargen_ring_size);
}

// Whole periods, enough that any window of chargen_max_window bytes starting in
// the first period fits; built at compile time, so it lives in read-only memory.
constexpr std::size_t block_periods =
    (chargen_period_bytes + chargen_max_window) / chargen_period_bytes + 1;
constexpr std::size_t block_bytes = block_periods * chargen_period_bytes;

constexpr std::array<char, block_bytes> make_block() noexcept {
  std::array<char, block_bytes> block{};
  for (std::size_t i = 0; i < block_bytes; ++i) {
    block[i] = line_byte(i);
  }
  return block;
}
constexpr std::array<char, block_bytes> block = make_block();

}  // namespace

char chargen_byte(std::uint64_t pos) noexcept {
  return line_byte(pos);
}

void chargen_fill(std::span<char> out, std::uint64_t pos) noexcept {
  while (!out.empty()) {
    const std::size_t n = std::min(out.size(), chargen_max_window);
    const std::string_view w = chargen_window(pos, n);
    std::copy(w.begin(), w.end(), out.begin());
    out = out.subspan(n);
    pos += n;
  }
}

std::string_view chargen_window(std::uint64_t pos, std::size_t len) noexcept {
  const std::size_t start = pos % chargen_period_bytes;
  return {block.data() + start, std::min(len, chargen_max_window)};
}

}  // namespace evald::kernels
