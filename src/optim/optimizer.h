// Optimizer: SGD (with optional momentum), Adam, AdamW and Muon over the flat parameter buffer,
// every tensor with its own LR, epsilon and weight decay (TensorHyper, from the parameterization).
// Under Muon the tensors the parameterization marks orthogonalised go to MuonUpdate
// (optim/muon.h) and every other trainable tensor runs AdamW.
//
// One pass over precomputed chunks (tensor, range) in a single parallel region: the per-tensor
// numbers differ, the loop does not. Weight decay: AdamW decouples it (w -= lr * wd * w, the
// PyTorch convention, so the per-step decay is lr * wd); Adam and SGD add wd * w to the gradient
// (L2). Tensors that are not trainable (the balancing bias) are skipped.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layout.h"
#include "optim/config.h"
#include "optim/muon.h"
#include "param/tensor_hyper.h"

namespace moet {

class Optimizer {
 public:
  Optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
            std::vector<param::TensorHyper> hyper);

  // One update with every tensor's LR multiplied by lr_factor (the schedule). grad_scale
  // multiplies the gradients first (gradient clipping).
  void step(float* params, const float* grads, double lr_factor, double grad_scale = 1.0);

  // L2 norm over the trainable parameters' gradients.
  double grad_norm(const float* grads) const;

  const std::vector<param::TensorHyper>& hyper() const { return hyper_; }
  const OptimConfig& config() const { return config_; }
  int64_t steps_taken() const { return steps_; }

  // State for checkpoints: the moments (m is the SGD momentum buffer) and the step count.
  std::vector<float>& first_moment() { return m_; }
  std::vector<float>& second_moment() { return v_; }
  void set_steps_taken(int64_t steps) { steps_ = steps; }

 private:
  struct Chunk {
    int64_t begin, end;  // into the flat buffer
    int tensor;
  };
  OptimConfig config_;
  std::vector<param::TensorHyper> hyper_;
  std::vector<Chunk> chunks_;
  MuonUpdate muon_;
  std::vector<float> m_, v_;
  int64_t steps_ = 0;
};

}  // namespace moet
