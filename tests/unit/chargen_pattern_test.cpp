#include <gtest/gtest.h>

#include <random>
#include <string>

#include "handlers/kernels/chargen_pattern.hpp"

using namespace evald::kernels;

namespace {

// Built independently from RFC 864's description: the printable characters as a
// ring; each line starts one character later than the previous one.
std::string reference_stream(std::size_t lines) {
  std::string ring;
  for (char c = ' '; c <= '~'; ++c) {
    ring.push_back(c);
  }
  const std::string doubled = ring + ring;
  std::string out;
  for (std::size_t k = 0; k < lines; ++k) {
    out += doubled.substr((k + 1) % ring.size(), 72);
    out += "\r\n";
  }
  return out;
}

}  // namespace

TEST(ChargenPattern, FirstLinesMatchTheRfcExample) {
  std::string first(2 * 74, '\0');
  chargen_fill(first, 0);
  EXPECT_EQ(first.substr(0, 74),
            "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n");
  EXPECT_EQ(first.substr(74, 74),
            "\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghi\r\n");
}

TEST(ChargenPattern, WholePeriodsByteForByteIncludingTheWrapThroughSpace) {
  const std::string expected = reference_stream(3 * 95);
  std::string got(expected.size(), '\0');
  chargen_fill(got, 0);
  ASSERT_EQ(got, expected);
  // Line 94 starts with the space, and line 30 wraps from '~' through ' ' to '!'.
  EXPECT_EQ(got[94 * 74], ' ');
  EXPECT_EQ(got.substr(30 * 74 + 63, 3), "~ !");
  EXPECT_EQ(chargen_period_bytes, 7030U);
  EXPECT_EQ(got.substr(0, 7030), got.substr(7030, 7030));
}

TEST(ChargenPattern, WindowsAndBytesAtArbitraryOffsets) {
  const std::string expected = reference_stream(95 * 30);  // > 210 KB
  std::mt19937_64 rng(864);
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t pos = rng() % (expected.size() - chargen_max_window);
    const std::size_t len = 1 + rng() % chargen_max_window;
    const auto w = chargen_window(pos, len);
    ASSERT_EQ(w.size(), len);
    ASSERT_EQ(w, std::string_view(expected).substr(pos, len)) << pos << "+" << len;
    ASSERT_EQ(chargen_byte(pos), expected[pos]);
  }
  // Offsets far beyond one period use the same pattern.
  const std::uint64_t far = 7030ULL * 1'000'000'007ULL + 5;
  EXPECT_EQ(chargen_window(far, 10), std::string_view(expected).substr(5, 10));
}
