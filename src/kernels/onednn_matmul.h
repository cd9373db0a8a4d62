// onednn_matmul: the float and bf16 paths of gemm, run as oneDNN matmul primitives kept in a
// bounded LRU cache keyed by the whole call shape (see kernels/gemm.h for the contract).
//
// Internal to kernels/: gemm.cpp handles empty sizes and k = 0 before calling in, so every size
// here is positive. Only this file's .cpp sees oneDNN headers.
#pragma once

#include <cstdint>

#include "kernels/flags.h"

namespace moet {

enum class MatmulInput { f32, bf16 };

void onednn_matmul(MatmulInput input, Transpose trans_a, Transpose trans_b, int64_t m, int64_t n,
                   int64_t k, float alpha, const void* a, int64_t lda, const void* b, int64_t ldb,
                   float beta, float* c, int64_t ldc);

// Whether oneDNN can build a bf16 matmul on this CPU: it needs AVX-512 (AVX512-BF16 or AMX run
// it natively) and refuses on AVX2-only CPUs such as Zen 3. Probed once.
bool onednn_has_bf16_matmul();

}  // namespace moet
