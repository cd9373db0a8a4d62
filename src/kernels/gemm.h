// gemm: C = alpha * op(A) op(B) + beta * C, row-major, the one matrix-multiply entry point.
//
// op(A) is m x k and op(B) is k x n; with trans_a, A is stored k x m (leading dimension lda),
// likewise for B. float goes to oneDNN's matmul with a cache of primitives keyed by shape, so the
// varying token counts of MoE experts do not rebuild a primitive every step (creation ~100 us,
// a cached call ~2 us; deps.md §1.4). double goes to a plain blocked loop: it exists for the
// finite-difference gradient checks, not for speed.
//
// Threading: called outside an OpenMP parallel region, the float path uses all OpenMP threads;
// called inside one (e.g. per attention head), it runs on the calling thread only.
#pragma once

#include <cstdint>

namespace moet {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The plain triple loop, for tests: the reference every gemm path is checked against.
template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace moet
