// Muon: the update of the hidden matrices the parameterization marks orthogonalised
// (TensorHyper::orthogonalised, from a preset's muon_lr cells under optim.name = muon).
//
// Per matrix (each expert's [in, out] slice of an expert tensor on its own, and each half of a
// SwiGLU up projection on its own): momentum m = mu m + (1 - mu) g; the update direction
// u = (1 - mu) g + mu m with Nesterov, else m; O = the nearest semi-orthogonal matrix to u by
// Newton-Schulz iteration; then w = (1 - lr wd) w - lr O (docs/sources.md [MUON]). No shape
// factor is applied here: the per-tensor LR, including Muon's shape scale (sqrt(fan_out /
// fan_in) for muP), is the parameterization's muon_lr cell, so width is counted exactly once.
//
// With norm_preserved (HyperP's MuonH, [HYPERP-2603]) the step is relative to the matrix:
// O is rescaled to the Frobenius norm n of w, and after the step w is scaled back to norm n, so
// every matrix keeps the norm it started with. Weight decay then shrinks nothing: the rescale
// undoes it, leaving a step 1 / (1 - lr wd) times larger (hyperp's table sets wd 0 there).
//
// Muon needs whole matrices, so it reads and writes the full tensors of the flat buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layout.h"
#include "optim/config.h"
#include "param/tensor_hyper.h"

namespace moet {

// Replaces x (rows x cols, row-major, rows <= cols) by the quintic Newton-Schulz iterate of
// Muon's reference code after `steps` iterations: about U V^T for x = U S V^T, singular values
// brought into roughly [0.7, 1.2]. work holds at least 2 rows^2 + rows cols floats.
void newton_schulz_orthogonalise(float* x, int64_t rows, int64_t cols, int steps, float* work);

class MuonUpdate {
 public:
  MuonUpdate(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
             const std::vector<param::TensorHyper>& hyper);

  bool empty() const { return matrices_.empty(); }

  // One update of every orthogonalised tensor; momentum is the optimizer's first-moment buffer
  // (same layout as params). lr_factor and grad_scale as in Optimizer::step.
  void step(float* params, const float* grads, float* momentum, double lr_factor,
            double grad_scale) const;

 private:
  // One matrix: rows x cols entries starting at offset, consecutive rows ld apart.
  struct Matrix {
    int64_t offset, rows, cols, ld;
    int tensor;
  };
  void step_matrix(const Matrix& mat, float* params, const float* grads, float* momentum,
                   double lr_factor, float grad_scale, std::vector<float>& work) const;

  OptimConfig config_;
  std::vector<param::TensorHyper> hyper_;
  std::vector<Matrix> matrices_;
};

}  // namespace moet
