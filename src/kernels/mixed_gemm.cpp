#include "kernels/mixed_gemm.h"

#include <vector>

#include "kernels/bf16.h"
#include "kernels/gemm.h"

namespace moet {
namespace {

// Elements a stored operand spans: `rows` rows of leading dimension ld, the last one `cols` long.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return (rows - 1) * ld + cols; }

// The bf16 form of an operand: its own copy, or a rounding into this thread's scratch slot.
const uint16_t* as_bf16(const GemmOperand& op, int64_t count, Bf16Slot slot) {
  return op.bf16 ? op.bf16 : round_to_bf16_scratch(op.f32, count, slot);
}

}  // namespace

const uint16_t* round_to_bf16_scratch(const float* values, int64_t count, Bf16Slot slot) {
  thread_local std::vector<uint16_t> scratch[3];
  std::vector<uint16_t>& buffer = scratch[int(slot)];
  if (buffer.size() < size_t(count)) buffer.resize(size_t(count));
  float_to_bf16(values, buffer.data(), count);
  return buffer.data();
}

void gemm_mixed(bool use_bf16, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n,
                int64_t k, float alpha, GemmOperand a, int64_t lda, GemmOperand b, int64_t ldb,
                float beta, float* c, int64_t ldc) {
  if (!use_bf16 || m == 0 || n == 0 || k == 0)
    return gemm<float>(trans_a, trans_b, m, n, k, alpha, a.f32, lda, b.f32, ldb, beta, c, ldc);
  const uint16_t* a16 =
      as_bf16(a, trans_a == Transpose::yes ? span(k, m, lda) : span(m, k, lda), Bf16Slot::a);
  const uint16_t* b16 =
      as_bf16(b, trans_b == Transpose::yes ? span(n, k, ldb) : span(k, n, ldb), Bf16Slot::b);
  gemm_bf16(trans_a, trans_b, m, n, k, alpha, a16, lda, b16, ldb, beta, c, ldc);
}

}  // namespace moet
