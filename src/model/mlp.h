// The two-layer MLP, x -> act(x W_up + b_up) -> (.) W_down + b_down, forward and backward.
//
// One implementation serves dense FFN blocks, shared experts and each routed expert (which
// calls it on its contiguous block of permuted tokens). The caller owns every buffer; the
// forward keeps pre (the up-projection) and act for the backward pass.
#pragma once

#include <cstdint>

#include "kernels/flags.h"
#include "model/weights.h"

namespace moet {

// MlpBuffers<T> for the forward, which writes them; MlpBuffers<const T> for the backward,
// which only reads what the forward kept.
template <typename T>
struct MlpBuffers {
  T* pre;  // [rows, up_cols]
  T* act;  // [rows, hidden]
};

// out (=, or += with accumulate) = mlp(x); w.up etc. may be expert slices.
template <typename T>
void mlp_forward(T* out, const MlpBuffers<T>& buf, const T* x, int64_t rows, int64_t N,
                 const MlpWeights<T>& w, bool swiglu, Accumulate accumulate);

// Adds parameter gradients into w.*.grad; dx (=, or += with accumulate_dx). dact and dpre are
// scratch of the sizes of act and pre; dout is [rows, N].
template <typename T>
void mlp_backward(T* dx, Accumulate accumulate_dx, const T* dout, const T* x,
                  const MlpBuffers<const T>& buf, T* dact, T* dpre, int64_t rows, int64_t N,
                  const MlpWeights<T>& w, bool swiglu);

}  // namespace moet
