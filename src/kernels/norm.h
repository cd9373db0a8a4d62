// LayerNorm and RMSNorm over the last axis of a [rows, cols] buffer, forward and backward.
//
// LayerNorm: out = xhat * (gain.mult * gain) + bias.mult * bias; RMSNorm: out = xhat *
// (gain.mult * gain). Forward saves per-row statistics (mean, rstd) for the backward pass.
// Backward *adds* into dx (the residual stream's gradient is already there) and into gain.grad /
// bias.grad (parameter gradients accumulate over micro-batches), each times its multiplier; an
// empty gain ({}) means a norm without affine weights (qk-norm).
#pragma once

#include <cstdint>

#include "kernels/scaled_vector.h"

namespace moet {

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* x, ScaledVector<T> gain,
                       ScaledVector<T> bias, int64_t rows, int64_t cols, double eps);
template <typename T>
void layernorm_backward(T* dx, ScaledVector<T> gain, ScaledVector<T> bias, const T* dout,
                        const T* x, const T* mean, const T* rstd, int64_t rows, int64_t cols);

template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* x, ScaledVector<T> gain, int64_t rows, int64_t cols,
                     double eps);
template <typename T>
void rmsnorm_backward(T* dx, ScaledVector<T> gain, const T* dout, const T* x, const T* rstd,
                      int64_t rows, int64_t cols);

// The residual add before a norm fused into the norm's pass over each row, so the row is read
// once while in cache: x = a + scale * b, then the norm of x as above. The same
// bits as the add followed by layernorm_forward / rmsnorm_forward: the same expressions, row by
// row.
template <typename T>
void add_layernorm_forward(T* x, const T* a, const T* b, T scale, T* out, T* mean, T* rstd,
                           ScaledVector<T> gain, ScaledVector<T> bias, int64_t rows, int64_t cols,
                           double eps);
template <typename T>
void add_rmsnorm_forward(T* x, const T* a, const T* b, T scale, T* out, T* rstd,
                         ScaledVector<T> gain, int64_t rows, int64_t cols, double eps);

}  // namespace moet
