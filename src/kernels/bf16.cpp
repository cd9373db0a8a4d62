#include "kernels/bf16.h"

namespace moet {

// Plain loops: with -O3 and 512-bit vectors g++ turns the bit arithmetic into zmm code.
void float_to_bf16(const float* values, uint16_t* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = float_to_bf16(values[i]);
}

void bf16_to_float(const uint16_t* values, float* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = bf16_to_float(values[i]);
}

}  // namespace moet
