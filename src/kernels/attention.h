// Causal multi-head softmax attention with a fixed head dimension, forward and backward.
//
// q, k, v and out are [B*T, N] with head h in columns [h*d, (h+1)*d) — the layout the
// projections produce, so no transposes are materialised. probs [B, H, T, T] keeps the softmax
// for the backward pass (row t holds t+1 valid entries, the rest are zero). The logit scale is
// given (1/d_head for μP-style presets, 1/sqrt(d_head) for SP): the parameterization decides.
// Backward *writes* dq, dk, dv.
//
// Blocked and causal: each (sequence, head) pair runs on one thread, in blocks of
// kAttentionBlock query rows; a block's scores are one GEMM against only the keys it can see,
// so the masked upper triangle is never computed (only the diagonal block's half is) and a
// block's scores stay in cache between the GEMM, the softmax and the product with V. The
// backward pass goes the same way: dP and dS by query block, dQ by query block, dK and dV by key
// block over the queries at or after it.
#pragma once

#include <cstdint>

namespace moet {

inline constexpr int64_t kAttentionBlock = 64;

template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale);

// Elements of scratch attention_backward needs to run on `threads` threads (one T x T tile each).
int64_t attention_scratch_numel(int64_t T_len, int threads);

// scratch holds attention_scratch_numel(T_len, scratch_threads) elements; the pass uses at most
// scratch_threads threads and allocates nothing.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale, T* scratch, int scratch_threads);

// The same with scratch allocated per call (tests).
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale);

}  // namespace moet
