// Model<T>: the decoder-only MoE transformer with hand-written forward and backward.
//
//   h_0 = mult_embed * embed[x] (+ mult_pos * pos_embed[t])
//   h  += residual_mult * W_O attn(norm(h))        per block
//   h  += residual_mult * ffn(norm(h))             dense MLP or MoE layer (model.moe_every)
//   logits = readout_mult * norm(h_L) W_readout     W_readout = embed^T (tied) or unembed
//   loss = mean cross-entropy (+ Switch aux loss + router z-loss when weighted)
//
// The logits are formed kReadoutRows rows at a time (model/readout_rows.h) and never whole: a
// training pass (forward_train) takes each chunk's loss gradient while the chunk is at hand, so
// the readout's backward runs inside it and backward() starts at the final norm.
//
// T is float for training and double for the finite-difference gradient checks. All buffers
// are allocated at construction for a fixed batch of B sequences of model.seq tokens; a step
// allocates nothing. Parameters and gradients are flat buffers in model_tensors() order.
// Numbers (init std, multipliers, block scalars) come from the ModelPlan; the model decides none.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/flags.h"
#include "kernels/rope.h"
#include "model/activations.h"
#include "model/attention_kernel.h"
#include "model/config.h"
#include "model/expert_dispatch.h"
#include "model/layout.h"
#include "model/moe_layer.h"
#include "model/parallel_groups.h"
#include "model/plan.h"
#include "model/precision.h"
#include "model/readout_rows.h"
#include "model/recompute.h"
#include "model/weights.h"

namespace moet {

struct ForwardResult {
  double loss = 0;      // mean cross-entropy per token
  double aux_loss = 0;  // sum over MoE layers of the weighted Switch auxiliary losses
  double z_loss = 0;    // sum over MoE layers of the weighted router z-losses
  double total() const { return loss + aux_loss + z_loss; }
};

template <typename T>
class Model {
 public:
  // Throws Error when the plan does not fit the config. attention picks the attention kernel
  // (train.attention; automatic chooses by model.seq) and recompute what the forward pass drops
  // for the backward pass to compute again (train.recompute); both decide what the model keeps.
  // groups (parallel_groups.h): the ranks this model shares its tokens and experts with; under
  // expert parallelism the model holds only its group rank's experts (layout(), first_expert),
  // and every rank must run forward and backward in step, as they exchange rows (recomputation
  // included). The plan is the whole model's (the tensor list is the same). The groups must
  // outlive the model.
  Model(const ModelConfig& config, const ModelPlan& plan, int64_t batch,
        AttentionKernel attention = AttentionKernel::automatic,
        Recompute recompute = Recompute::none, ParallelGroups groups = {});

  void init(uint64_t seed);
  // fp32 by default. bf16 (float models only) runs the large GEMMs in mixed precision
  // (model/precision.h); it allocates the bf16 weight copy, so call it before training.
  void set_precision(Precision precision);
  Precision precision() const { return precision_; }
  // inputs and targets are [B, seq] token ids. Throws Error on an id outside the vocabulary.
  // With a token group, aux_loss and z_loss (and routing()) cover the whole group's tokens and
  // loss this process's; every rank's backward then adds its share of the gradient of the
  // group's mean loss times the group's size (ranks with equal batches; a trainer averages).
  // An evaluation pass: the losses, no gradient work; backward() may not follow it.
  ForwardResult forward(const int32_t* inputs, const int32_t* targets);
  // A training pass for the gradient of loss_scale * total loss: the forward pass, with the
  // readout's backward formed chunk by chunk beside the logits (its weight's gradient is added
  // into grads() here, so zero them before, not between this and backward()).
  ForwardResult forward_train(const int32_t* inputs, const int32_t* targets, T loss_scale = T(1));
  // Adds the rest of d(loss_scale * total loss)/d params into grads(), for the last
  // forward_train. Exactly once per forward_train (checked).
  void backward();
  void zero_grad();
  // Rows of logits formed at a time (default kReadoutRows); tests set a few rows to run the
  // readout over several chunks and a ragged last one.
  void set_readout_rows(int64_t rows);

  const ModelConfig& config() const { return config_; }
  const ModelPlan& plan() const { return plan_; }
  const std::vector<TensorInfo>& tensors() const { return layout_.tensors; }
  // The tensor list and where each block's tensors sit in it (index into tensors() and plan()).
  const ModelLayout& layout() const { return layout_; }
  int64_t batch() const { return B_; }
  AttentionKernel attention_kernel() const { return attention_; }  // strips or flash
  Recompute recompute() const { return recompute_; }
  int64_t rows() const { return B_ * config_.seq; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  const std::vector<T>& grads() const { return grads_; }

  // Of the last forward pass, one entry per MoE block in block order.
  const std::vector<RoutingStats>& routing() const { return routing_; }
  // Activations of the last forward pass, for probes (coordinate checks). Under recomputation
  // the buffers it drops are empty here (a block's routing is kept). backward() writes the FFN
  // gradients over the FFN's MLP and expert buffers: read them before it.
  const std::vector<BlockActs<T>>& block_acts() const { return acts_; }
  // Residual stream entering block l; l = L is the input of the final norm.
  const T* residual(int64_t l) const { return resid_[size_t(l)].data(); }
  const std::vector<T>& final_norm_out() const { return final_norm_.out; }

 private:
  // The tensor at this layout index; a null Weight for -1 (a tensor the config does not have).
  Weight<T> weight(int index);
  // Points the bf16 field of every GEMM weight at params_bf16_ (or at null for fp32).
  void attach_bf16_weights();
  NormWeights<T> norm_weights(const NormIndex& index);
  MlpWeights<T> mlp_weights(const MlpIndex& index, int64_t hidden);
  T readout_mult() const;
  ForwardResult run_forward(const int32_t* inputs, const int32_t* targets,
                            std::optional<T> loss_scale);
  // The readout and the loss of rows [first, first + rows) (at most readout_rows_), and with a
  // loss scale their backward: d logits, then dfinal_'s rows and the readout weight's gradient.
  void readout_chunk(int64_t first, int64_t rows, std::optional<T> loss_scale);
  BlockContext<T> block_context();
  // The buffers block l runs on: its own, or the workspace's for those recompute_ drops.
  struct BlockBuffers {
    AttentionActs<T>* attn;
    T* resid_mid;
    FfnActs<T>* ffn;
  };
  BlockBuffers block_buffers(int64_t l);
  void allocate_activations();
  // Block l's forward pass from the norm of its input (formed by the previous block) to the
  // next block's input and its norm (or the final norm).
  void forward_block(const BlockContext<T>& ctx, int64_t l, RoutingStats* stats);
  // Computes again what the forward pass dropped of block l, from its input resid_[l].
  void recompute_block(const BlockContext<T>& ctx, int64_t l, const BlockBuffers& b);
  // The tied readout's GEMMs (embed is [V, N], so not a linear layer), in bf16 when the model is.
  void readout_gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, const uint16_t* a_bf16, int64_t lda, const T* b,
                    const uint16_t* b_bf16, int64_t ldb, T beta, T* c, int64_t ldc) const;

  ModelConfig config_;
  ModelPlan plan_;
  ModelLayout layout_;
  int64_t B_;
  AttentionKernel attention_;
  Recompute recompute_;
  std::vector<T> params_, grads_;
  Precision precision_ = Precision::fp32;
  std::vector<uint16_t> params_bf16_;  // bf16 copy of params_, refreshed by each forward

  Weight<T> embed_, pos_embed_, unembed_;
  NormWeights<T> final_norm_w_;
  std::vector<BlockWeights<T>> blocks_;
  RopeTable<T> rope_;
  ParallelGroups groups_;
  std::unique_ptr<ExpertDispatch<T>> experts_;  // under expert parallelism (E > 1) only

  std::vector<int32_t> inputs_, targets_;
  std::vector<std::vector<T>> resid_;  // L + 1 residual streams [R, N]
  std::vector<BlockActs<T>> acts_;
  // What recomputation drops, shared by the blocks: attention (attention and block), the
  // mid-block residual stream and the FFN buffers by kind, [0] dense and [1] MoE (block).
  AttentionActs<T> attn_workspace_;
  std::vector<T> resid_mid_workspace_;
  FfnActs<T> ffn_workspace_[2];
  RoutingStats recompute_stats_;  // the routing report a recomputed MoE block writes
  NormActs<T> final_norm_;
  int64_t readout_rows_ = kReadoutRows;
  std::vector<T> logits_;  // [readout_rows_, V]: one chunk's logits, probabilities, gradients
  std::vector<T> token_loss_;
  std::vector<T> branch_, dh_, dfinal_;
  BackwardScratch<T> scratch_;
  std::vector<RoutingStats> routing_;
  std::optional<T> loss_scale_;  // of a forward_train whose backward() has not run yet
};

}  // namespace moet
