// The parameter layout: every tensor of a model, its role and shape, in one flat buffer.
//
// All parameters live contiguously (and their gradients and optimizer moments in buffers of
// the same layout), so the optimizer is one pass, a checkpoint is one write, and a tensor is an
// offset. Matrices are stored [in, out] (y = x W); expert tensors carry a leading expert axis.
// The list depends only on the ModelConfig, so param/ can resolve numbers for it before any
// model exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/roles.h"

namespace moet {

struct TensorInfo {
  std::string name;  // e.g. "blocks.0.moe.expert_up"
  Role role;
  std::vector<int64_t> shape;
  int64_t layer = -1;    // block index, -1 for embeddings and the final norm
  int64_t experts = 0;   // size of the leading expert axis (M, or shared count), else 0
  int64_t fan_in = 0;    // inputs summed per output (matrices: rows of one [in, out] slice)
  int64_t fan_out = 0;
  int64_t offset = 0;    // into the flat parameter buffer
  int64_t numel = 0;
  bool trainable = true;  // false for route_bias: moved by the balancing rule only
};

std::vector<TensorInfo> model_tensors(const ModelConfig& config);
int64_t total_numel(const std::vector<TensorInfo>& tensors);
// Parameters touched by one token's forward pass (top-K experts only); for FLOP counts.
int64_t active_numel(const ModelConfig& config, const std::vector<TensorInfo>& tensors);
// Index of the tensor with this name, or -1.
int find_tensor(const std::vector<TensorInfo>& tensors, const std::string& name);

}  // namespace moet
