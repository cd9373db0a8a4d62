// The attention sublayer: h_out = h_in + residual_mult * W_O attn(norm(h_in)), with optional
// qk-norm and RoPE on q and k, forward and backward.
#pragma once

#include "model/activations.h"
#include "model/block_context.h"
#include "model/weights.h"

namespace moet {

// kernel is strips or flash (resolved, model/attention_kernel.h).
template <typename T>
void allocate_attention(AttentionActs<T>& a, const ModelConfig& c, int64_t B,
                        AttentionKernel kernel);
// Elements of BackwardScratch::attn for `threads` threads.
int64_t attention_block_scratch_numel(AttentionKernel kernel, const ModelConfig& c, int threads);

// Everything the backward pass reads (a) from the block input, without the output projection
// and residual add: what train.recompute computes again (model/recompute.h).
template <typename T>
void attention_acts_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                            AttentionActs<T>& a, const T* h_in, BackwardScratch<T>& s);

// branch is [R, N] scratch; the forward pass also borrows s.attn (attention tiles).
template <typename T>
void attention_block_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                             AttentionActs<T>& a, const T* h_in, T* h_out, T* branch,
                             BackwardScratch<T>& s);

// On entry dh holds d loss / d h_out; on return d loss / d h_in. h_in is the block input.
template <typename T>
void attention_block_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                              const AttentionActs<T>& a, const T* h_in, T* dh,
                              BackwardScratch<T>& s);

}  // namespace moet
