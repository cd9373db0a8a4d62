// The ranks a model works with when one step's tokens are spread over several processes.
//
// A plain model has none (both null) and computes what it always did. Under expert parallelism
// the `experts` group (E ranks) splits every MoE layer's experts: rank e holds experts
// [e M/E, (e+1) M/E) and the rows routed to them travel there and back (expert_dispatch.h).
// The `tokens` group is every rank whose tokens make up the step (R = D x E with data
// parallelism): the routing statistics — per-expert load counts, the Switch auxiliary loss, the
// z-loss, the logit RMS — are sums over it, so the aux loss, the logged loads and the balancing
// bias see all tokens.
#pragma once

#include "model/expert_shard.h"

namespace moet::dist {
class World;
}

namespace moet {

struct ParallelGroups {
  dist::World* experts = nullptr;  // null or one rank: this process holds every expert
  dist::World* tokens = nullptr;   // null: the expert group (or this process alone)
};

// This process's experts: rank and size of the expert group ({0, 1} without one).
ExpertShard expert_shard(const ParallelGroups& groups);

}  // namespace moet
