// Weight<T>: one parameter tensor as the layer code sees it — its values, its gradient and its
// forward multiplier — and the per-block bundles of them.
//
// Built once from the layout and the plan, so the forward/backward code names tensors
// (w.wq, w.expert_up) instead of searching the layout, and an absent optional tensor (a bias
// with model.linear_bias = false) is a null Weight.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/scaled_vector.h"

namespace moet {

template <typename T>
struct Weight {
  T* value = nullptr;
  T* grad = nullptr;
  T mult = 1;
  // value rounded to bf16 when the model runs this tensor's GEMMs in bf16 (model/precision.h);
  // null in fp32.
  const uint16_t* bf16 = nullptr;

  explicit operator bool() const { return value != nullptr; }
  // A bias, norm gain or balancing bias as the kernels take it: values, gradient, multiplier.
  ScaledVector<T> scaled() const { return {value, grad, mult}; }
  // Slice e of an expert tensor whose experts each hold `stride` values.
  Weight expert(int64_t e, int64_t stride) const {
    if (!value) return {};
    return Weight{value + e * stride, grad + e * stride, mult, bf16 ? bf16 + e * stride : nullptr};
  }
};

template <typename T>
struct NormWeights {
  Weight<T> gain, bias;  // bias is null for RMSNorm
};

// The up -> activation -> down MLP shared by dense FFNs, shared experts and routed experts.
template <typename T>
struct MlpWeights {
  Weight<T> up, up_bias, down, down_bias;
  int64_t hidden = 0;  // Ne, shared Ne or dense Nf
};

template <typename T>
struct BlockWeights {
  NormWeights<T> ln1, ln2;
  Weight<T> wq, wk, wv, wo, bq, bk, bv, bo;
  bool moe = false;
  MlpWeights<T> ffn;             // dense blocks
  Weight<T> router, route_bias;  // MoE blocks
  MlpWeights<T> experts;         // all M experts; slice with expert()
  MlpWeights<T> shared;          // all shared experts
};

}  // namespace moet
