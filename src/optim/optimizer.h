// Optimizer: SGD (with optional momentum), Adam, AdamW and Muon over the flat parameter buffer,
// every tensor with its own LR, epsilon and weight decay (TensorHyper, from the parameterization).
// Under Muon the tensors the parameterization marks orthogonalised go to MuonUpdate
// (optim/muon.h) and every other trainable tensor runs AdamW.
//
// One pass over precomputed chunks (tensor, range) in a single parallel region: the per-tensor
// numbers differ, the loop does not. Weight decay: AdamW decouples it (w -= lr * wd * w, the
// PyTorch convention, so the per-step decay is lr * wd); Adam and SGD add wd * w to the gradient
// (L2). Tensors that are not trainable (the balancing bias) are skipped.
//
// ZeRO-1: an optimizer may own a range of the flat buffer only (its rank's shard); it then keeps
// moments for that range alone, reads gradients for that range and updates only those parameters.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layout.h"
#include "optim/config.h"
#include "optim/muon.h"
#include "param/tensor_hyper.h"

namespace moet {

// [begin, end) of the flat parameter buffer.
struct FlatRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

class Optimizer {
 public:
  // Owns the whole buffer.
  Optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
            std::vector<param::TensorHyper> hyper);
  // Owns `owned` only (within the buffer).
  Optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
            std::vector<param::TensorHyper> hyper, FlatRange owned);

  // One update with every tensor's LR multiplied by lr_factor (the schedule). grad_scale
  // multiplies the gradients first (gradient clipping). params is the whole flat buffer, of which
  // the owned range changes; grads holds the owned range's gradients (grads[0] is that of
  // params[owned().begin]).
  void step(float* params, const float* grads, double lr_factor, double grad_scale = 1.0);

  // Sum of squares over the trainable parameters' gradients in the owned range (grads as in
  // step), and its square root: the L2 norm when the optimizer owns the whole buffer.
  double grad_square_sum(const float* grads) const;
  double grad_norm(const float* grads) const;

  FlatRange owned() const { return owned_; }

  const std::vector<param::TensorHyper>& hyper() const { return hyper_; }
  const OptimConfig& config() const { return config_; }
  int64_t steps_taken() const { return steps_; }

  // State for checkpoints: the moments (m is the SGD momentum buffer) of the owned range and the
  // step count.
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
  FlatRange owned_;
  std::vector<Chunk> chunks_;
  MuonUpdate muon_;
  std::vector<float> m_, v_;
  int64_t steps_ = 0;
};

}  // namespace moet
