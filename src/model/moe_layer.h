// The MoE FFN: route each token to its top-K experts, run every expert as one GEMM over its
// block of tokens, and combine — forward and backward, plus the balancing losses and stats.
//
//   logits = mult_router * x W_router           (fp32/fp64 like everything on CPU)
//   scores = sigmoid(logits) | softmax(logits)
//   chosen = top-K of scores + mult_rb * route_bias   (no gradient through the choice)
//   gates  = scores of the chosen (optionally divided by their sum)
//   y      = aggregation_mult * sum_k gate_k E_k(x)  +  sum_s E_shared_s(x)
// Router gradients flow only through the gates of the chosen experts, and through the
// Switch auxiliary loss (weight * M * sum_i f_i P_i, P from softmax(logits)) and the z-loss
// (weight * mean logsumexp(logits)^2) when those are on.
#pragma once

#include <cstdint>
#include <vector>

#include "model/activations.h"
#include "model/block_context.h"
#include "model/weights.h"

namespace moet {

// Per-layer routing report of the last forward pass.
struct RoutingStats {
  int64_t layer = 0;
  std::vector<int64_t> counts;  // tokens that chose each expert
  int64_t tokens = 0;           // R
  double logit_rms = 0;         // RMS of the router logits
  double aux_loss = 0;          // weighted, as added to the total loss
  double z_loss = 0;
  // load_i = counts_i / tokens; K/M at perfect balance.
  std::vector<double> load() const;
  double max_over_mean_load() const;
};

template <typename T>
void allocate_moe(FfnActs<T>& a, const ModelConfig& c, int64_t B);

// y [R, N] is written; stats receives this layer's routing report (its buffers are reused).
template <typename T>
void moe_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a, const T* x,
                 T* y, RoutingStats& stats);

// dy is d loss / d y scaled as the caller's loss; dx (=) receives d loss / d x.
// loss_scale multiplies the auxiliary and z-loss gradients, as it does the main loss. The
// backward scratch of the experts is a's own buffers (x_perm, exp_pre, exp_act, exp_out and the
// shared experts' pre and act), which it overwrites with gradients; the routing is left intact.
template <typename T>
void moe_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a, const T* x,
                  const T* dy, T* dx, T loss_scale, BackwardScratch<T>& s);

}  // namespace moet
