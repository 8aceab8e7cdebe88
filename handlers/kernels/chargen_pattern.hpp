#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace evald::kernels {

// RFC 864 character generator: the 95 printable ASCII characters (32..126) form a
// ring; line k is the 72 characters starting at ring position (k + 1) mod 95, then
// CR LF. The stream repeats every 95 lines.
inline constexpr std::size_t chargen_ring_size = 95;
inline constexpr std::size_t chargen_line_chars = 72;
inline constexpr std::size_t chargen_line_bytes = chargen_line_chars + 2;
inline constexpr std::size_t chargen_period_bytes = chargen_ring_size * chargen_line_bytes;  // 7030

// Largest window chargen_window() can return.
inline constexpr std::size_t chargen_max_window = 64 * 1024;

// Byte at offset `pos` of the infinite stream.
char chargen_byte(std::uint64_t pos) noexcept;

// Fills `out` with the stream bytes starting at offset `pos`.
void chargen_fill(std::span<char> out, std::uint64_t pos) noexcept;

// The stream bytes [pos, pos + len) as a view into one shared read-only block
// (len <= chargen_max_window): senders need no per-client buffer at all.
std::string_view chargen_window(std::uint64_t pos, std::size_t len) noexcept;

}  // namespace evald::kernels
