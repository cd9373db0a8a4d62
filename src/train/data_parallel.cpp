#include "train/data_parallel.h"

#include <algorithm>

#include "core/error.h"
#include "core/profile.h"

namespace moet {

DataParallel::DataParallel(dist::World& world, int64_t numel, int64_t batch)
    : world_(world),
      numel_(numel),
      batch_(batch),
      shard_(dist::zero1_shard(numel, world.rank(), world.size())),
      rows_(dist::batch_rows(batch, world.rank(), world.size())) {
  if (ranks() == 1) return;
  // The collectives need R equal blocks: the flat vector is padded once, at its end.
  padded_.assign(size_t(dist::padded_length(numel, ranks())), 0.0f);
  shard_grads_.assign(size_t(shard_.length), 0.0f);
}

const float* DataParallel::reduce_scatter(const std::vector<float>& grads) {
  MOET_CHECK(int64_t(grads.size()) == numel_);
  if (ranks() == 1) return grads.data();
  PhaseScope scope(Phase::communication);
  std::copy(grads.begin(), grads.end(), padded_.begin());
  world_.reduce_scatter_sum(padded_, shard_grads_);
  return shard_grads_.data();
}

void DataParallel::all_gather(std::vector<float>& params) {
  MOET_CHECK(int64_t(params.size()) == numel_);
  if (ranks() == 1) return;
  PhaseScope scope(Phase::communication);
  const std::span<float> mine(padded_.data() + shard_.begin, size_t(shard_.length));
  std::copy_n(params.begin() + shard_.begin, shard_.owned, mine.begin());
  world_.all_gather(std::span<const float>(mine), std::span<float>(padded_));
  std::copy_n(padded_.begin(), numel_, params.begin());
}

double DataParallel::sum(double local) {
  if (ranks() == 1) return local;
  PhaseScope scope(Phase::communication);
  world_.allreduce_sum(std::span<double>(&local, 1));
  return local;
}

std::vector<float> DataParallel::gather(std::span<const float> owned_part) {
  MOET_CHECK(int64_t(owned_part.size()) == shard_.owned);
  if (ranks() == 1) return {owned_part.begin(), owned_part.end()};
  std::vector<float> all(padded_.size()), mine(size_t(shard_.length), 0.0f);
  std::copy(owned_part.begin(), owned_part.end(), mine.begin());
  world_.all_gather(std::span<const float>(mine), std::span<float>(all));
  all.resize(size_t(numel_));
  return all;
}

std::vector<float> DataParallel::owned_part(std::span<const float> whole) const {
  MOET_CHECK(int64_t(whole.size()) == numel_);
  const auto first = whole.begin() + shard_.begin;
  return {first, first + shard_.owned};
}

}  // namespace moet
