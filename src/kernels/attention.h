// Causal multi-head softmax attention with a fixed head dimension, forward and backward.
//
// q, k, v and out are [B*T, N] with head h in columns [h*d, (h+1)*d) — the layout the
// projections produce, so no transposes are materialised. probs [B, H, T, T] keeps the softmax
// for the backward pass: row t holds t+1 valid entries and zeros up to the end of its strip;
// entries further right are never written or read (callers zero the buffer once, as the model
// does, to see zeros there). The logit scale is
// given (1/d_head for μP-style presets, 1/sqrt(d_head) for SP): the parameterization decides.
// Backward *writes* dq, dk, dv.
//
// Causal by strips: each (sequence, head) pair runs on one thread, kAttentionStrip query rows at
// a time; a strip's scores are computed against only the keys it can see (the masked upper
// triangle is skipped but for the strip's own small corner), softmaxed while in cache, and
// multiplied by V. Backward: dP, dS and dQ by query strip, then dK and dV by key strip over the
// queries at or after it. The products are kernels/tile_gemm.h (no per-call set-up), so the
// strips can be as thin as the register blocking.
#pragma once

#include <cstdint>

namespace moet {

inline constexpr int64_t kAttentionStrip = 12;

// Elements of scratch either pass needs to run on `threads` threads: per thread a T x T tile
// (dS) and a d x T one (K^T or V^T packed for the products).
int64_t attention_scratch_numel(int64_t T_len, int64_t d, int threads);

// scratch holds attention_scratch_numel(T_len, d, scratch_threads) elements; a pass uses at most
// scratch_threads threads and allocates nothing.
template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale, T* scratch,
                       int scratch_threads);
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale, T* scratch, int scratch_threads);

// The same with scratch allocated per call (tests).
template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale);
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale);

}  // namespace moet
