// A linear layer y = mult * (x W) + b on row-major buffers, W stored [in, out].
//
// Every projection of the model (attention, router, experts, FFN, readout) goes through these
// two functions, so each forward multiplier appears in exactly one forward and one backward line.
#pragma once

#include <cstdint>

namespace moet {

// out (=, or += with accumulate) mult * x W (+ bias); bias may be null.
template <typename T>
void linear_forward(T* out, const T* x, const T* W, const T* bias, int64_t rows, int64_t in,
                    int64_t out_dim, T mult, bool accumulate = false);

// dW += mult * x^T dout; dbias += colsum(dout) (if dbias); dx (=, or += with accumulate_dx)
// = mult * dout W^T (skipped when dx is null).
template <typename T>
void linear_backward(T* dx, T* dW, T* dbias, const T* dout, const T* x, const T* W, int64_t rows,
                     int64_t in, int64_t out_dim, T mult, bool accumulate_dx);

}  // namespace moet
