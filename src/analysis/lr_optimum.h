// The optimum of one loss curve over a grid in log2 of a hyperparameter (the learning rate; the
// init std when it was swept too), between and beyond its grid points.
//
// The rule (docs/sweeps.md): take the grid minimum among the points that did not diverge. If it
// sits inside the grid, with finite neighbours on both sides, the optimum is the vertex of the
// parabola in log2(x) through it and its two neighbours; that vertex always lies between the
// neighbours, and within half a grid step of the minimum on an even grid. Three points, not a
// least-squares fit over more: loss-vs-LR curves are steep on the high side and flat on the low
// side, and a wider parabola is pulled towards the flat side (measured on exp(u) - u: up to half
// an octave). With ties going to the smaller value the parabola always opens upwards; it is
// ill-posed only on a flat curve (every loss equal), where the grid minimum stands (kind argmin). A
// minimum at the edge of the grid is reported as such (kind edge): the true optimum may lie beyond
// what was tried. A minimum just below a diverged point, with a finite point below it, is the
// largest value that trains (kind below_divergence): the optimum cannot lie past the divergence,
// so the grid minimum stands for it to within a grid step, as for argmin. This is where plain SGD's
// optimum sits (its loss falls with the LR up to the edge of stability). A minimum just above a
// diverged point, or below a diverged one at the grid's bottom, is an edge.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace moet::analysis {

struct LossPoint {
  double log2_x = 0;  // log2 of the hyperparameter: log2(LR), log2(init std)
  double loss = NAN;  // NaN or inf: diverged (or missing)
};

enum class OptimumKind {
  fit,               // vertex of the parabola
  argmin,            // the grid minimum: the curve is flat, a parabola is ill-posed
  below_divergence,  // the grid minimum is the largest value before a diverged one
  edge,  // the grid minimum lies at the grid's edge, or any other side of a diverged point
  none,  // every point diverged
};
const char* optimum_kind_name(OptimumKind kind);

struct Optimum {
  OptimumKind kind = OptimumKind::none;
  double log2_x = NAN;       // the estimated optimum
  double loss = NAN;         // the grid minimum's loss (measured, not fitted)
  double fitted_loss = NAN;  // the parabola's value at its vertex (fit only)
  double grid_log2_x = NAN;  // where the grid minimum is
};

// points in any order; at most one per grid value.
Optimum find_optimum(std::vector<LossPoint> points);

}  // namespace moet::analysis
