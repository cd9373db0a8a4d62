// DataParallel: ZeRO-1 data parallelism over the ranks of a World, and with expert parallelism
// its two reduction groups (docs/distributed.md §2 and §3.1).
//
// train.batch stays the global batch: every rank draws the same batch and runs the model on its
// own contiguous rows (dist::batch_rows), so the data order does not depend on the rank count.
// Each rank's gradient is of the mean over its rows, scaled by 1/R in the backward; the flat
// gradient is reduce-scattered, each rank's optimizer updates the range of the flat parameter
// vector it owns (dist::zero1_shard) with moments for that range only, and the ranges are
// all-gathered back into every rank's parameters. Scalars (losses, the gradient norm) are summed
// in double. With one rank every call is the identity and nothing is copied.
//
// Expert parallelism (E > 1, R = D x E, rank = d E + e): the model holds experts
// [e M/E, (e+1) M/E) of every MoE layer. Its flat vector has two parts, each packed (its tensors
// in layout order, back to back) and synced as above over its own group: the replicated tensors
// over all R ranks, the routed-expert slices over the D ranks holding the same slice (each
// already holds the gradient of every token routed to it). The optimizer then owns the two
// parts' shards side by side in a compact vector of its own (make_optimizer). Checkpoints hold the
// whole model: slices are gathered over the E ranks of an expert group (expert_slices.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dist/batch_split.h"
#include "dist/world.h"
#include "dist/zero_shard.h"
#include "model/parallel_groups.h"
#include "optim/optimizer.h"

namespace moet {

class DataParallel {
 public:
  // numel: the flat parameter vector's length; batch: train.batch, the global batch. Throws
  // Error naming train.batch when the rank count does not divide it.
  DataParallel(dist::World& world, int64_t numel, int64_t batch);
  // expert_parallel: train.expert_parallel (E). Throws Error naming train.expert_parallel
  // unless E divides the rank count and model.M, before any collective (every rank throws
  // alike); E = 1 is the constructor above. Every rank must call it (it splits the world).
  DataParallel(dist::World& world, const ModelConfig& config, int64_t batch,
               int64_t expert_parallel);
  ~DataParallel();

  dist::World& world() const { return world_; }
  int ranks() const { return world_.size(); }
  int64_t expert_ranks() const { return experts_ ? experts_->size() : 1; }  // E
  bool leader() const { return world_.rank() == 0; }  // the rank that writes and prints
  int64_t global_batch() const { return batch_; }
  dist::RowRange rows() const { return rows_; }  // this rank's sequences of every batch
  // The groups to build the model with: the expert group (none at E = 1) and all R for tokens.
  ParallelGroups groups() const { return {experts_.get(), &world_}; }
  ExpertShard expert_shard() const;

  // The optimizer of this rank's share; tensors: the model's (its layout, this rank's experts).
  Optimizer make_optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
                           const std::vector<param::TensorHyper>& hyper) const;
  // The owned gradients summed over the ranks, from this rank's whole gradient.
  const float* reduce_scatter(const std::vector<float>& grads);
  // What the optimizer updates: params itself, or (E > 1) a copy of its owned values.
  float* owned_params(std::vector<float>& params);
  // Every rank's owned range of params (updated by its optimizer) into every rank's params.
  void all_gather(std::vector<float>& params);
  double sum(double local);
  double mean(double local) { return ranks() == 1 ? local : sum(local) / ranks(); }  // equal shares

  // The whole model's vector from every rank's owned part (optimizer moments, for a checkpoint).
  std::vector<float> gather(std::span<const float> owned_part);
  // This rank's owned part of the whole model's vector (optimizer moments, from a checkpoint).
  std::vector<float> owned_part(std::span<const float> whole) const;
  // The whole model's parameters from every rank's.
  std::vector<float> whole_params(const std::vector<float>& params);
  // This rank's parameters from the whole model's, copied into params in place (the model's
  // tensors point into its buffer).
  void load_params(const std::vector<float>& whole, std::vector<float>& params) const;

  // Bytes this rank sent in all its groups since the last reset (dist/world.h §traffic).
  int64_t bytes_sent() const;
  void reset_traffic();

 private:
  struct Part;  // E > 1: one of the two packed vectors and its reduction group
  void pack_owned(const Part& part, const float* local, float* compact) const;
  std::vector<float> gather_local(std::span<const float> compact);

  dist::World& world_;
  int64_t numel_, batch_;
  dist::Shard shard_;
  dist::RowRange rows_;
  std::vector<float> padded_;       // R * shard length: gradients out, parameters in
  std::vector<float> shard_grads_;  // shard length (E > 1: both parts' shards, compact)
  std::unique_ptr<dist::World> experts_, replicas_;  // E > 1 only
  std::vector<TensorInfo> local_, whole_;            // E > 1 only: the two layouts
  std::vector<Part> parts_;                          // E > 1 only: replicated, expert slices
  std::vector<float> owned_params_;                  // E > 1 only: compact
};

}  // namespace moet
