#include "model/expert_shard.h"

#include "core/error.h"

namespace moet {

void validate_expert_shard(const ExpertShard& shard, int64_t M) {
  if (shard.ranks < 1 || shard.rank < 0 || shard.rank >= shard.ranks)
    fail("expert parallelism: rank {} of {} ranks", shard.rank, shard.ranks);
  if (M % shard.ranks != 0)
    fail("expert parallelism over {} ranks needs model.M divisible by {} (model.M = {})",
         shard.ranks, shard.ranks, M);
}

}  // namespace moet
