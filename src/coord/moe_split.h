// The four-term split of an MoE block's routed output after training (paper 2: [P2-MECH] and
// [P2-RCC]), for a model whose last forward pass ran at step t on the same batch as a step-0
// pass.
//
// With the routing, gates and combine weights c_{t,r,k} (aggregation multiplier x gate) of step
// t, expert e = the k-th choice of token r, its hidden activation h_t = act(W1_t x_t(r)), and
// h_0 = act(W1_0 x_0(r)) — expert e's hidden activation at init, on the same token's step-0 input
// (computed even if e did not serve r at step 0) — and W3 = expert_down, b3 its bias (each
// times its own multiplier):
//
//   y_t(r) = sum_k c_{t,r,k} (W3_t h_t + b3_t)
//          = sum_k c (W3_0 h_0 + b3_0)     init
//          + sum_k c  W3_0 (h_t - h_0)     propagating   (the expert's input moved)
//          + sum_k c (ΔW3 h_0 + Δb3)       effective     (the expert's output weights moved)
//          + sum_k c  ΔW3 (h_t - h_0)      cross
//
// with ΔW3 = W3_t - W3_0. The four terms add up to the routed output (shared experts are not
// part of it); at step 0 the init term is the output itself. Under muP in regimes II/III the
// init and propagating terms of independent experts average away as M grows [P2-MECH]; MSSP's
// fixes keep all four Theta(1).
//
// The model has no hook for a second set of weights, so W_0's expert MLPs are re-run here on
// the stored step-0 inputs (mlp_forward on slices of a copy of the parameters).
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace moet {

struct MoeSplit {
  // Each [R, N]: the combined terms of the definition above.
  std::vector<float> init, propagating, effective, cross;
  // [R*K, N]: the step-0 inputs of the step-t assignments, in the step-t expert order of
  // block_acts()[layer].ffn.x_perm; and [R*K, Ne]: h_0 in that order.
  std::vector<float> x0_perm, h0;
};

// layer must be an MoE block; params0 is model.params() at step 0 and x0 the block's MoE input
// (block_acts()[layer].ffn.ln.out) of the step-0 forward on the batch of the last forward.
MoeSplit moe_split(const Model<float>& model, int64_t layer, const float* params0, const float* x0);

// Expert e's MLP weights of block `layer`, read from a buffer laid out like model.params()
// (a copy at init, or a difference of two such buffers). Only for forward use.
MlpWeights<float> expert_weights(const Model<float>& model, int64_t layer, const float* params,
                                 int64_t e);

}  // namespace moet
