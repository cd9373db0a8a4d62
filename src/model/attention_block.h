// The attention sublayer: h_out = h_in + residual_mult * W_O attn(norm(h_in)), with optional
// qk-norm and RoPE on q and k, forward and backward. The forward pass runs from the norm to the
// branch; the model forms the norm and the residual add (fused: model/norm_layer.h).
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

// From a.ln, the norm of the block input, which the caller forms (model.cpp fuses it with the
// residual add before it): q/k/v and the attention core, everything the backward pass reads (a).
// What train.recompute = attention computes again, after the norm (model/recompute.h).
template <typename T>
void attention_acts_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                            AttentionActs<T>& a, BackwardScratch<T>& s);

// attention_acts_forward, then the output projection into branch [R, N], which the caller adds
// to the residual stream. Borrows s.attn (attention tiles).
template <typename T>
void attention_block_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                             AttentionActs<T>& a, T* branch, BackwardScratch<T>& s);

// On entry dh holds d loss / d h_out; on return d loss / d h_in. h_in is the block input.
template <typename T>
void attention_block_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                              const AttentionActs<T>& a, const T* h_in, T* dh,
                              BackwardScratch<T>& s);

}  // namespace moet
