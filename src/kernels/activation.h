// Pointwise activations of the expert and FFN MLPs, forward and backward.
//
// GELU is the tanh form (GPT-2, paper 1). SwiGLU reads an up-projection laid out [gate | up] per
// row ([rows, 2F]) and writes silu(gate) * up ([rows, F]). Backward *writes* din, which may be in
// (the MLP backward overwrites its pre-activations with their gradients).
#pragma once

#include <cstdint>

#include "kernels/scaled_vector.h"

namespace moet {

template <typename T>
void gelu_forward(T* out, const T* in, int64_t n);
template <typename T>
void gelu_backward(T* din, const T* dout, const T* in, int64_t n);

// Bias and GELU in one pass over an up-projection: pre[r, c] += bias.mult * bias.value[c] (pre
// then holds the pre-activation the backward pass needs), out = gelu(pre). gelu_backward is
// unchanged; the bias gradient is the linear layer's (linear_backward).
template <typename T>
void bias_gelu_forward(T* out, T* pre, ScaledVector<T> bias, int64_t rows, int64_t F);

template <typename T>
void swiglu_forward(T* out, const T* in, int64_t rows, int64_t F);
template <typename T>
void swiglu_backward(T* din, const T* dout, const T* in, int64_t rows, int64_t F);

}  // namespace moet
