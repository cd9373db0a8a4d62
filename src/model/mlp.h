// The two-layer MLP, x -> act(x W_up + b_up) -> (.) W_down + b_down, forward and backward.
//
// One implementation serves dense FFN blocks, shared experts and each routed expert (which
// calls it on its contiguous block of permuted tokens). The caller owns every buffer; the
// forward keeps pre (the up-projection) and act for the backward pass, which overwrites them
// with their gradients: each is dead once read, so the backward needs no scratch of their size.
#pragma once

#include <cstdint>

#include "kernels/flags.h"
#include "model/weights.h"

namespace moet {

template <typename T>
struct MlpBuffers {
  T* pre;  // [rows, up_cols]
  T* act;  // [rows, hidden]
};

// out (=, or += with accumulate) = mlp(x); w.up etc. may be expert slices.
template <typename T>
void mlp_forward(T* out, const MlpBuffers<T>& buf, const T* x, int64_t rows, int64_t N,
                 const MlpWeights<T>& w, bool swiglu, Accumulate accumulate);

// Adds parameter gradients into w.*.grad; dx (=, or += with accumulate_dx). buf holds what the
// forward kept and receives d act, then d pre. dout is [rows, N]. dx may be x (accumulate_dx no):
// x is last read before dx is written.
template <typename T>
void mlp_backward(T* dx, Accumulate accumulate_dx, const T* dout, const T* x,
                  const MlpBuffers<T>& buf, int64_t rows, int64_t N, const MlpWeights<T>& w,
                  bool swiglu);

}  // namespace moet
