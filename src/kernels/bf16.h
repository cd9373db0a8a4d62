// bf16 <-> fp32 conversion, round-to-nearest-even, on raw uint16_t storage.
//
// g++ 12 has no usable arithmetic __bf16, so bf16 values live in uint16_t: the top
// half of an IEEE float. Rounding to nearest-even (not truncation) keeps the conversion unbiased,
// which matters when weights are rounded every step; it is the rounding oneDNN uses, so a tensor
// rounded here matches one rounded inside a oneDNN primitive bit for bit.
#pragma once

#include <bit>
#include <cstdint>

namespace moet {

inline uint16_t float_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  // NaN must stay NaN: rounding could carry its payload into the exponent and make it infinity.
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x0040u);
  const uint32_t round_to_even = 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t((bits + round_to_even) >> 16);
}

inline float bf16_to_float(uint16_t value) { return std::bit_cast<float>(uint32_t(value) << 16); }

void float_to_bf16(const float* values, uint16_t* out, int64_t count);
void bf16_to_float(const uint16_t* values, float* out, int64_t count);

}  // namespace moet
