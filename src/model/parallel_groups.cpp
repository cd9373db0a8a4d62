#include "model/parallel_groups.h"

#include "dist/world.h"

namespace moet {

ExpertShard expert_shard(const ParallelGroups& groups) {
  if (!groups.experts) return {};
  return {groups.experts->rank(), groups.experts->size()};
}

}  // namespace moet
