// The optimum of one loss-vs-learning-rate curve, between and beyond its grid points.
//
// The rule (docs/sweeps.md): take the grid minimum among the points that did not diverge. If it
// sits inside the grid, with finite neighbours on both sides, fit a parabola in log2(LR) by least
// squares to it and up to two finite neighbours each side (3 to 5 points); the optimum is the
// vertex. The fit is ill-posed, and the optimum falls back to the grid minimum, when the
// parabola does not open upwards or its vertex leaves the span of the minimum's two neighbours;
// then the 3-point parabola through the minimum and its neighbours is tried before giving up. A
// minimum at the edge of the grid, or beside a diverged point, is reported as such: the true
// optimum may lie beyond what was tried.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace moet::analysis {

struct LossPoint {
  double log2_lr = 0;
  double loss = NAN;  // NaN or inf: diverged (or missing)
};

enum class OptimumKind {
  fit,       // vertex of the parabola
  argmin,    // the grid minimum: the parabola was ill-posed (flat or not convex)
  edge,      // the grid minimum lies at the grid's edge or beside a diverged point
  none,      // every point diverged
};
const char* optimum_kind_name(OptimumKind kind);

struct Optimum {
  OptimumKind kind = OptimumKind::none;
  double log2_lr = NAN;     // the estimated optimum
  double loss = NAN;        // the grid minimum's loss (measured, not fitted)
  double fitted_loss = NAN; // the parabola's value at its vertex (fit only)
  double grid_log2_lr = NAN;  // where the grid minimum is
  int fit_points = 0;       // points the parabola used (fit only)
};

// points in any order; at most one per LR.
Optimum find_optimum(std::vector<LossPoint> points);

}  // namespace moet::analysis
