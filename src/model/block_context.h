// What every sublayer's forward and backward needs besides its own weights and buffers.
#pragma once

#include <cstdint>

#include "kernels/rope.h"
#include "model/config.h"
#include "model/plan.h"

namespace moet::dist {
class World;
}

namespace moet {

template <typename T>
struct BlockContext {
  const ModelConfig& config;
  const BlockPlan& plan;
  const RopeTable<T>* rope;  // null unless model.pos = rope
  int64_t B;                 // sequences per batch
  // The data-parallel ranks sharing the batch, for batch-wide routing statistics; null: alone.
  dist::World* world = nullptr;
  int64_t R() const { return B * config.seq; }
};

}  // namespace moet
