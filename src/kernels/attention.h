// Causal multi-head softmax attention with a fixed head dimension, forward and backward.
//
// q, k, v and out are [B*T, N] with head h in columns [h*d, (h+1)*d) — the layout the
// projections produce, so no transposes are materialised. probs [B, H, T, T] keeps the softmax
// for the backward pass (row t holds t+1 valid entries, the rest are zero). The logit scale is
// given (1/d_head for μP-style presets, 1/sqrt(d_head) for SP): the parameterization decides.
// Backward *writes* dq, dk, dv.
#pragma once

#include <cstdint>

namespace moet {

template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale);
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale);

}  // namespace moet
