// Everything the forward pass keeps for the backward pass, per block, allocated once per batch
// size (llm.c style: explicit buffers, no allocation inside a step), plus the scratch the
// backward pass reuses across blocks (and the forward pass borrows for attention tiles).
#pragma once

#include <cstdint>
#include <vector>

#include "model/attention_kernel.h"
#include "model/expert_dispatch.h"
#include "model/norm_layer.h"

namespace moet {

template <typename T>
struct AttentionActs {
  NormActs<T> ln;
  std::vector<T> q_lin, k_lin, v;  // projections
  std::vector<T> q, k;             // after qk-norm and RoPE; empty when neither applies
  std::vector<T> q_rstd, k_rstd;   // qk-norm statistics, one per (row, head)
  AttentionKernel kernel = AttentionKernel::strips;  // which of probs and lse is kept
  std::vector<T> probs;                              // [B, H, T, T] softmax (strips)
  std::vector<T> lse;                                // [B, H, T] logsumexp per query row (flash)
  std::vector<T> att;                                // attention output, before W_O
  const T* q_final() const { return q.empty() ? q_lin.data() : q.data(); }
  const T* k_final() const { return k.empty() ? k_lin.data() : k.data(); }
};

// Routing of one MoE layer for one forward pass.
template <typename T>
struct RoutingActs {
  std::vector<T> logits, scores;         // [R, M]
  std::vector<int32_t> selected;         // [R, K], best first
  std::vector<T> gates;                  // [R*K]: the selected scores, renormalised if asked
  std::vector<T> combine_weight;         // [R*K]: aggregation_mult * gate (or its sqrt: gate_fn)
  std::vector<int64_t> offsets;          // [M + 1]
  std::vector<int32_t> order, position;  // [R*K], see kernels/routing.h
  std::vector<T> aux_probs;              // [R, M] softmax of the logits, when aux or z loss is on
  std::vector<T> logsumexp;              // [R], when the z-loss is on
  // Sums over the token group's rows (this process's alone without one), the statistics and
  // the auxiliary loss's load fractions are formed from: [M] assignments per expert, [M] aux
  // probabilities per expert, then the sums of logit^2 and logsumexp^2, then the rows.
  std::vector<double> totals;
};

template <typename T>
struct FfnActs {
  NormActs<T> ln;
  std::vector<T> pre, act;  // dense FFN, or shared experts stacked [S][R, ...]
  RoutingActs<T> routing;
  std::vector<T> x_perm;                     // [R*K, N]: normalised inputs grouped by expert
  std::vector<T> exp_pre, exp_act, exp_out;  // [R*K, up_cols], [R*K, Ne], [R*K, N]
  // Expert parallelism: the routes of the layer's rows, and the rows the local experts received
  // (their inputs, expert-major); exp_pre and exp_act then hold the local experts' rows too.
  ExpertRoutes routes;
  std::vector<T> expert_in;
};

template <typename T>
struct BlockActs {
  AttentionActs<T> attn;
  std::vector<T> resid_mid;  // residual stream between the attention and FFN sublayers
  FfnActs<T> ffn;
};

template <typename T>
struct BackwardScratch {
  std::vector<T> dbranch, dln, datt, dq, dk, dv, dq_lin, dk_lin;  // [R, N]
  // The MLPs' and experts' gradients need no scratch here: each is written over the block's own
  // forward buffers, dead by then (mlp.h, moe_layer.h).
  std::vector<T> dgates;            // [R*K]
  std::vector<T> dscores, drouter;  // [R, M]
  std::vector<T> attn;              // attention tiles per thread (kernels/attention.h)
  int attn_threads = 1;             // threads attn has room for
};

}  // namespace moet
