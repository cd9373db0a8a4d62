// Recompute: which activations the forward pass drops and the backward pass computes again
// (key train.recompute), trading compute for memory per block.
//
// none keeps every block's activations. attention keeps of the attention sublayer only its input
// (the residual stream, kept anyway) and recomputes its norm, q/k/v projections and attention
// core in the backward pass; block keeps only each block's input and its routing (small) and
// recomputes the whole block but its last residual add. Dropped buffers live in a workspace
// shared by the blocks (one per FFN kind; Model::block_buffers), so the memory of the dropped
// part no longer grows with L. The recomputation runs the forward pass's own kernels on the same
// inputs with the same threads, so gradients are the same bits as without it; the last block's
// buffers are still in the workspace when the backward pass starts, so it is never recomputed.
// Cost in FLOPs (model/flops.h): block adds the forward pass of L - 1 blocks but their output
// projections, attention their q/k/v projections and attention products.
#pragma once

#include <string>

#include "core/enum_names.h"

namespace moet {

enum class Recompute { none, attention, block };

inline constexpr EnumName<Recompute> kRecomputeModes[] = {
    {Recompute::none, "none"}, {Recompute::attention, "attention"}, {Recompute::block, "block"}};

inline const char* recompute_name(Recompute r) { return enum_name(r, kRecomputeModes); }
// Throws Error "train.recompute: 'x' is not one of none|attention|block".
inline Recompute recompute_from_name(const std::string& name) {
  return parse_enum("train.recompute", name, kRecomputeModes);
}

}  // namespace moet
