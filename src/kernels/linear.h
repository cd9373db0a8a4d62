// A linear layer y = mult * (x W) + bias.mult * b on row-major buffers, W stored [in, out].
//
// Every projection of the model (attention, router, experts, FFN, readout) goes through these
// two functions, so each forward multiplier appears in exactly one forward and one backward line.
// Row counts that are not a multiple of 256 run as up to three GEMMs (multiples of 256 and of 32,
// and the rest padded with zero rows to 32), so the varying token counts of experts reuse a few
// GEMM primitives instead of building one per count (linear.cpp).
#pragma once

#include <cstdint>

#include "kernels/flags.h"
#include "kernels/scaled_vector.h"

namespace moet {

// out (=, or += with accumulate) mult * x W (+ bias.mult * bias.value); bias may be empty ({}).
// With W_bf16 (W rounded to bf16, float only) the product runs in bf16 with fp32 accumulation
// (kernels/mixed_gemm.h); the bias is added in T.
template <typename T>
void linear_forward(T* out, const T* x, const T* W, ScaledVector<T> bias, int64_t rows, int64_t in,
                    int64_t out_dim, T mult, Accumulate accumulate = Accumulate::no,
                    const uint16_t* W_bf16 = nullptr);

// dW += mult * x^T dout; bias.grad += bias.mult * colsum(dout) (if bias.grad); dx (=, or += with
// accumulate_dx) = mult * dout W^T (skipped when dx is null). W_bf16 as in linear_forward: both
// products then run in bf16 (dW and dx still accumulate in fp32). dx may be x (with
// accumulate_dx no): every read of x comes before the first write of dx.
template <typename T>
void linear_backward(T* dx, T* dW, ScaledVector<T> bias, const T* dout, const T* x, const T* W,
                     int64_t rows, int64_t in, int64_t out_dim, T mult, Accumulate accumulate_dx,
                     const uint16_t* W_bf16 = nullptr);

}  // namespace moet
