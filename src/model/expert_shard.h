// Expert parallelism's placement: over E ranks, rank e holds experts [e M/E, (e+1) M/E) of every
// MoE layer. The layout of such a model (model_layout with a shard) has the same tensors, in the
// same order and with the same names, as the whole model's; its routed-expert tensors hold M/E
// experts and say which (TensorInfo::first_expert), so a plan resolved for the whole model fits
// it and a checkpoint writer can put every slice in its place.
#pragma once

#include <cstdint>

namespace moet {

struct ExpertShard {
  int64_t rank = 0;   // e
  int64_t ranks = 1;  // E
  int64_t experts_held(int64_t M) const { return M / ranks; }
  int64_t first_expert(int64_t M) const { return rank * (M / ranks); }
};

// Throws Error naming model.M unless 0 <= rank < ranks and ranks divides M.
void validate_expert_shard(const ExpertShard& shard, int64_t M);

}  // namespace moet
