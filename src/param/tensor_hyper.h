// TensorHyper: one tensor's resolved optimizer settings, what the parameterization hands the
// optimizer (Parameterization::hyper, one per tensor in layout order).
//
// It lives in param/, the layer that decides these numbers, so that param/ never depends on
// optim/, the layer above it that applies them.
#pragma once

namespace moet::param {

// Absolute values at the peak of the schedule.
struct TensorHyper {
  double lr = 0;
  double eps = 0;
  double wd = 0;
  // Under optim.name = muon: the tensor's update is Muon's orthogonalised momentum (each
  // expert's matrix on its own) rather than AdamW's; the role's row has a muon_lr cell.
  bool orthogonalised = false;
  // HyperP's sphere: every matrix keeps the Frobenius norm it starts with, and lr is the step
  // relative to that norm (only with orthogonalised).
  bool norm_preserved = false;
  // Side-by-side matrices in each [in, out] slice that Muon orthogonalises one by one: 2 for a
  // SwiGLU up projection (gate columns, then up columns), else 1.
  int column_blocks = 1;
};

}  // namespace moet::param
