// fp32 <-> bf16 conversion: round-to-nearest-even at ties, NaN and infinity preserved, exact
// round trips for values that are already bf16, and array forms equal to the scalar ones.
#include "kernels/bf16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

namespace moet {
namespace {

float from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between bf16 1.0 (even) and 1 + 2^-7 (odd): ties go to even.
  EXPECT_EQ(float_to_bf16(from_bits(0x3f808000)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 0x3f81 (odd) and 0x3f82 (even).
  EXPECT_EQ(float_to_bf16(from_bits(0x3f818000)), 0x3f82);
  // Just above and below a tie round to the nearer neighbour.
  EXPECT_EQ(float_to_bf16(from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(float_to_bf16(from_bits(0x3f817fff)), 0x3f81);
  // Rounding up can carry into the exponent.
  EXPECT_EQ(float_to_bf16(from_bits(0x3fffffff)), 0x4000);
}

TEST(Bf16, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_bf16(inf), 0x7f80);
  EXPECT_EQ(float_to_bf16(-inf), 0xff80);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // overflows to inf
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  // A NaN whose payload sits only in the low half must not round into infinity.
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(from_bits(0x7f800001)))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_EQ(bf16_to_float(0x7f80), inf);
}

TEST(Bf16, RoundTripIsExactForBf16Values) {
  for (uint32_t bits = 0; bits < 0x10000; bits += 7) {
    const float value = bf16_to_float(uint16_t(bits));
    if (std::isnan(value)) continue;
    EXPECT_EQ(float_to_bf16(value), bits);
  }
}

TEST(Bf16, ArrayFormsMatchScalar) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i)
    values.push_back(std::sin(float(i)) * std::pow(2.0f, float(i % 40 - 20)));
  values.push_back(NAN);
  std::vector<uint16_t> rounded(values.size());
  float_to_bf16(values.data(), rounded.data(), int64_t(values.size()));
  std::vector<float> back(values.size());
  bf16_to_float(rounded.data(), back.data(), int64_t(values.size()));
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    EXPECT_EQ(rounded[i], float_to_bf16(values[i]));
    EXPECT_EQ(back[i], bf16_to_float(rounded[i]));
    // 8 significant bits: half a unit in the last place is at most 2^-8 of the value.
    EXPECT_LE(std::abs(back[i] - values[i]), std::ldexp(std::abs(values[i]), -8));
  }
  EXPECT_TRUE(std::isnan(back.back()));
}

}  // namespace
}  // namespace moet
