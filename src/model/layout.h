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
#include "model/expert_shard.h"
#include "model/roles.h"

namespace moet {

struct TensorInfo {
  std::string name;  // e.g. "blocks.0.moe.expert_up"
  Role role;
  std::vector<int64_t> shape;
  int64_t layer = -1;   // block index, -1 for embeddings and the final norm
  int64_t experts = 0;  // size of the leading expert axis (M, or shared count), else 0
  // Routed experts under expert parallelism hold experts [first_expert, first_expert + experts)
  // of the whole tensor's all_experts (= M); every other tensor is whole (first 0, all = experts).
  int64_t first_expert = 0;
  int64_t all_experts = 0;
  int64_t fan_in = 0;  // inputs summed per output (matrices: rows of one [in, out] slice)
  int64_t fan_out = 0;
  int64_t offset = 0;  // into the flat parameter buffer
  int64_t numel = 0;
  bool trainable = true;  // false for route_bias: moved by the balancing rule only
};

// Where each tensor of the model sits in the tensor list: an index into ModelLayout::tensors,
// -1 where the config has no such tensor (biases without model.linear_bias, a LayerNorm bias
// under RMSNorm, MoE tensors in a dense block). Code binds tensors through these; the names are
// for checkpoints and printing.
struct NormIndex {
  int gain = -1, bias = -1;
};

// The up -> activation -> down MLP of a dense FFN, of all routed experts or of all shared
// experts (expert tensors carry the leading expert axis).
struct MlpIndex {
  int up = -1, up_bias = -1, down = -1, down_bias = -1;
};

struct BlockIndex {
  NormIndex ln1, ln2;
  int wq = -1, wk = -1, wv = -1, wo = -1, bq = -1, bk = -1, bv = -1, bo = -1;
  MlpIndex ffn;                      // dense blocks
  int router = -1, route_bias = -1;  // MoE blocks
  MlpIndex experts, shared;
};

struct ModelLayout {
  std::vector<TensorInfo> tensors;  // in parameter-buffer order
  int embed = -1, pos_embed = -1, unembed = -1;
  NormIndex final_norm;
  std::vector<BlockIndex> blocks;  // one per block, in block order
};

// shard: the routed experts this process holds (expert_shard.h); the default holds them all.
// Throws Error when the shard does not divide model.M.
ModelLayout model_layout(const ModelConfig& config, const ExpertShard& shard = {});
// model_layout(config).tensors.
std::vector<TensorInfo> model_tensors(const ModelConfig& config);
int64_t total_numel(const std::vector<TensorInfo>& tensors);
// Parameters touched by one token's forward pass (top-K experts only); for FLOP counts.
int64_t active_numel(const ModelConfig& config, const std::vector<TensorInfo>& tensors);
// Index of the tensor with this name, or -1 (for tools and tests; code binds by ModelLayout).
int find_tensor(const std::vector<TensorInfo>& tensors, const std::string& name);

}  // namespace moet
