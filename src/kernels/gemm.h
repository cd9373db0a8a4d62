// gemm: C = alpha * op(A) op(B) + beta * C, row-major, the one matrix-multiply entry point.
//
// op(A) is m x k and op(B) is k x n; with trans_a, A is stored k x m (leading dimension lda),
// likewise for B. beta = 0 never reads C (it may hold NaN); k = 0 gives C = beta C.
//
// float and bf16 go to oneDNN's matmul through a cache of primitives keyed by the whole call
// shape (layout, sizes, leading dimensions, alpha, beta, thread count), so the varying token
// counts of MoE experts build a primitive once per distinct count, not once per call (on this
// machine a new shape costs ~0.1-0.5 ms, a cached call ~1 us; see `moet bench-gemm`). alpha and
// beta are baked into the primitive: pass constants (1, 0, a fixed attention scale), not values
// that change every step. double goes to a plain loop: it exists for the finite-difference
// gradient checks, not for speed.
//
// Threading: called outside an OpenMP parallel region, gemm uses all OpenMP threads, except for
// products below ~2 MFLOP, which one thread finishes sooner than a fork-join. Called inside a
// region (e.g. one head per thread), it runs on the calling thread only, and concurrent calls
// from the threads of a region are safe.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/flags.h"

namespace moet {

template <typename T>
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Mixed precision: A and B in bf16 (see kernels/bf16.h), products accumulated and C kept in fp32.
void gemm_bf16(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

// The plain triple loop, for tests: the reference every gemm path is checked against.
template <typename T>
void gemm_reference(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The primitive cache behind the float and bf16 paths, observable for tests and benchmarks.
struct GemmCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;  // each one built a primitive
  int64_t entries = 0;
  int64_t capacity = 0;  // least recently used entries go beyond this
};
GemmCacheStats gemm_cache_stats();
void gemm_cache_clear();  // a cold start: drops every entry (oneDNN's too), zeroes the counters
void gemm_cache_set_capacity(int64_t entries);  // default 2048 (~50 KB each)

// Benchmarks only: the oneDNN implementation a dense call of this shape runs, with alpha = 1 and
// beta = 0 (e.g. "brg:avx512_core" or "gemm:jit"), so figures can be told apart by kernel.
std::string gemm_implementation_name(bool bf16, Transpose trans_a, Transpose trans_b, int64_t m,
                                     int64_t n, int64_t k);

// Benchmarks only: with caching off, every float/bf16 call builds its primitive from scratch,
// bypassing both this cache and oneDNN's own, i.e. what an uncached facade would cost.
void gemm_set_caching(bool enabled);

}  // namespace moet
