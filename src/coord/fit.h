// The coordinate check's verdict on one metric: the least-squares slope of log(value) against
// log(scale), and whether that slope says the metric is flat, grows or shrinks along the ladder.
//
// A metric m ∝ scale^slope. The check passes for a metric that should be Theta(1) when
// |slope| < flat_threshold (default 0.15: over a x8 ladder, less than a factor 8^0.15 = 1.37,
// well inside seed noise and finite-width corrections at CPU scale, well below the slopes of
// 1/2 and 1 that a wrong parameterization gives; docs/coord.md).
#pragma once

#include <string>
#include <vector>

namespace moet {

constexpr double kDefaultFlatThreshold = 0.15;

struct SlopeFit {
  double slope = 0, intercept = 0;
  double slope_stderr = 0;  // 0 with two points (an exact line)
  int points = 0;           // 0 when no fit was possible
};

// Least squares of log(y) on log(x) over every pair; needs >= 2 pairs, every x and y positive
// and finite, and two distinct x (else points = 0).
SlopeFit fit_log_log(const std::vector<double>& x, const std::vector<double>& y);

enum class Verdict {
  flat,          // |slope| < threshold
  grows,         // slope >= threshold
  shrinks,       // slope <= -threshold
  zero,          // every value exactly 0 (e.g. an update before the first step)
  diverged,      // a value is NaN or infinite
  undetermined,  // some values 0 and some not: no log-log slope
};

const char* verdict_name(Verdict verdict);

// The verdict on values y (means over seeds, one per scale) and their fit.
Verdict classify(const std::vector<double>& y, const SlopeFit& fit, double flat_threshold);

}  // namespace moet
