// A power law y = c x^b fitted as a line in log2 (log2 y = intercept + slope log2 x) by ordinary
// least squares, with its residuals and a 95% prediction band; and the power law of a ladder's
// optimal LR in its scale, which `moet report` shows for token and batch ladders and `moet
// transfer --target-tokens` extrapolates (arXiv 2608.20061 fits log eta* linear in log tokens).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "analysis/lr_optimum.h"

namespace moet::analysis {

struct PowerLawFit {
  std::vector<double> log2_x, log2_y;
  std::vector<double> residuals;  // log2_y minus the line, per point
  double intercept = NAN, slope = NAN;
  double residual_sd = NAN;  // sqrt(sum of squared residuals / (n - 2)); NaN with two points
  double slope_se = NAN;     // standard error of the slope; NaN with two points
  double mean_log2_x = NAN, sxx = NAN;
};

// At least two points with distinct x; throws Error otherwise.
PowerLawFit fit_power_law(const std::vector<double>& log2_x, const std::vector<double>& log2_y);

struct PowerLawPrediction {
  double log2_y = NAN;
  // Half the 95% prediction interval of a new point at log2_x (Student t with n - 2 degrees of
  // freedom): where a sweep at that x would find its optimum. NaN with two points: a line through
  // two points says nothing about its own scatter.
  double half_width = NAN;
};
PowerLawPrediction predict(const PowerLawFit& fit, double log2_x);

// The 97.5% quantile of Student's t with df degrees of freedom (df >= 1).
double student_t_975(int df);

// A ladder's optimal log2 LR against log2 of its scale. Only optima known to a grid step count
// (fit, argmin, below-divergence): an optimum at the grid's edge is a bound, not a value, and is
// left out and named.
struct OptimumTrend {
  bool fitted = false;  // at least two scales with an optimum inside the grid
  PowerLawFit fit;
  std::vector<double> scales;         // the scales fitted
  std::vector<std::string> left_out;  // "x8 (edge)"
  std::string text;  // "lr* ∝ tokens^+0.51 (±0.07 s.e.): log2 lr* = ..., residuals ..."
};
// scales and optima in scale order; quantity names the scale ("tokens", "batch", "scale").
OptimumTrend optimum_trend(const std::vector<double>& scales, const std::vector<Optimum>& optima,
                           const std::string& quantity);

}  // namespace moet::analysis
