// DataParallel: ZeRO-1 data parallelism over the ranks of a World (docs/distributed.md §2).
//
// train.batch stays the global batch: every rank draws the same batch and runs the model on its
// own contiguous rows (dist::batch_rows), so the data order does not depend on the rank count.
// Each rank's gradient is of the mean over its rows, scaled by 1/R in the backward; the flat
// gradient is reduce-scattered, each rank's optimizer updates the range of the flat parameter
// vector it owns (dist::zero1_shard) with moments for that range only, and the ranges are
// all-gathered back into every rank's parameters. Scalars (losses, the gradient norm) are summed
// in double. With one rank every call is the identity and nothing is copied.
//
// Expert parallelism (later) syncs expert tensors over the ranks holding the same experts and
// everything else over all ranks: two of these, each over its own communicator and its own set
// of tensors, in place of the one whole flat vector here.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dist/batch_split.h"
#include "dist/world.h"
#include "dist/zero_shard.h"
#include "optim/optimizer.h"

namespace moet {

class DataParallel {
 public:
  // numel: the flat parameter vector's length; batch: train.batch, the global batch. Throws
  // Error naming train.batch when the rank count does not divide it.
  DataParallel(dist::World& world, int64_t numel, int64_t batch);

  dist::World& world() const { return world_; }
  int ranks() const { return world_.size(); }
  bool leader() const { return world_.rank() == 0; }  // the rank that writes and prints
  int64_t global_batch() const { return batch_; }
  dist::RowRange rows() const { return rows_; }  // this rank's sequences of every batch
  FlatRange owned() const { return {shard_.begin, shard_.begin + shard_.owned}; }

  // The owned range's gradient summed over the ranks, from this rank's whole gradient.
  const float* reduce_scatter(const std::vector<float>& grads);
  // Every rank's owned range of params (updated by its optimizer) into every rank's params.
  void all_gather(std::vector<float>& params);
  double sum(double local);
  double mean(double local) { return ranks() == 1 ? local : sum(local) / ranks(); }  // equal shares

  // The whole vector from every rank's owned part (optimizer moments, for a checkpoint).
  std::vector<float> gather(std::span<const float> owned_part);
  // This rank's owned part of a whole vector (optimizer moments, from a checkpoint).
  std::vector<float> owned_part(std::span<const float> whole) const;

 private:
  dist::World& world_;
  int64_t numel_, batch_;
  dist::Shard shard_;
  dist::RowRange rows_;
  std::vector<float> padded_;       // R * shard length: gradients out, parameters in
  std::vector<float> shard_grads_;  // shard length
};

}  // namespace moet
