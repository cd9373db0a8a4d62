// The FFN sublayer: h_out = h_in + residual_mult * ffn(norm(h_in)), where ffn is the dense MLP
// or the MoE layer depending on the block, forward and backward. The forward pass runs from the
// norm to the branch; the model forms the norm and the residual add (fused: model/norm_layer.h).
#pragma once

#include "model/activations.h"
#include "model/block_context.h"
#include "model/moe_layer.h"
#include "model/weights.h"

namespace moet {

template <typename T>
void allocate_ffn(FfnActs<T>& a, const ModelConfig& c, int64_t B, bool moe);

// From a.ln, the norm of the sublayer's input, which the caller forms (model.cpp fuses it with
// the residual add before it): the dense MLP or MoE layer into branch [R, N], which the caller
// adds to the residual stream. MoE blocks write their routing report into *stats (not null).
template <typename T>
void ffn_block_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a,
                       T* branch, RoutingStats* stats);

// On entry dh holds d loss / d h_out; on return d loss / d h_in. Overwrites a's MLP buffers with
// their gradients (mlp.h, moe_layer.h): a holds activations again only after the next forward.
template <typename T>
void ffn_block_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a,
                        const T* h_in, T* dh, T loss_scale, BackwardScratch<T>& s);

}  // namespace moet
