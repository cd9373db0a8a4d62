// LayerNorm and RMSNorm over the last axis of a [rows, cols] buffer, forward and backward.
//
// Forward saves per-row statistics (mean, rstd) for the backward pass. Backward *adds* into dx
// (the residual stream's gradient is already there) and into dgain/dbias (parameter gradients
// accumulate over micro-batches); a null gain means a norm without affine weights (qk-norm).
#pragma once

#include <cstdint>

namespace moet {

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* x, const T* gain, const T* bias,
                       int64_t rows, int64_t cols, double eps);
template <typename T>
void layernorm_backward(T* dx, T* dgain, T* dbias, const T* dout, const T* x, const T* mean,
                        const T* rstd, const T* gain, int64_t rows, int64_t cols);

template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* x, const T* gain, int64_t rows, int64_t cols,
                     double eps);
template <typename T>
void rmsnorm_backward(T* dx, T* dgain, const T* dout, const T* x, const T* rstd, const T* gain,
                      int64_t rows, int64_t cols);

}  // namespace moet
