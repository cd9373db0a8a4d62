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
};

}  // namespace moet::param
