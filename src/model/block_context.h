// What every sublayer's forward and backward needs besides its own weights and buffers.
#pragma once

#include <cstdint>

#include "kernels/rope.h"
#include "model/config.h"
#include "model/expert_dispatch.h"
#include "model/plan.h"

namespace moet {

template <typename T>
struct BlockContext {
  const ModelConfig& config;
  const BlockPlan& plan;
  const RopeTable<T>* rope;  // null unless model.pos = rope
  int64_t B;                 // sequences per batch
  // Expert parallelism (parallel_groups.h): the traffic to the ranks holding the other experts,
  // null when this process holds them all; the ranks whose tokens the routing statistics sum
  // over, null for this process's alone.
  ExpertDispatch<T>* experts = nullptr;
  dist::World* tokens = nullptr;
  int64_t R() const { return B * config.seq; }
};

}  // namespace moet
