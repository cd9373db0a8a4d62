// gemm_mixed: one fp32 GEMM entry point that runs in bf16 when asked (mixed precision).
//
// An operand is its fp32 values plus, optionally, a bf16 copy the caller keeps (weights are
// converted once per step by the model). With use_bf16, operands without a copy are rounded to
// bf16 here, into per-thread scratch that grows to the largest operand seen and is then reused
// (no allocation once a training step has run); products accumulate and C stays in fp32
// (kernels/gemm.h, gemm_bf16). Without use_bf16 it is gemm<float> on the fp32 values.
#pragma once

#include <cstdint>

#include "kernels/flags.h"

namespace moet {

struct GemmOperand {
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;  // the same values rounded to bf16, or null
};

// Scratch slots of the calling thread: gemm_mixed rounds missing A and B copies into the first
// two; `caller` is free for a caller that rounds an operand once for several GEMMs.
enum class Bf16Slot { a, b, caller };
// values[0, count) rounded to bf16 into the calling thread's slot (valid until its next use).
const uint16_t* round_to_bf16_scratch(const float* values, int64_t count, Bf16Slot slot);

void gemm_mixed(bool use_bf16, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n,
                int64_t k, float alpha, GemmOperand a, int64_t lda, GemmOperand b, int64_t ldb,
                float beta, float* c, int64_t ldc);

}  // namespace moet
