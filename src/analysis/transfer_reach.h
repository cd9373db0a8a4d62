// How far a transfer reaches: along each axis where the target differs from the base (the shape
// axes, the token budget and the batch), how many doublings the target lies beyond the scales a
// sweep's ladders checked. `moet transfer` prints it and warns past one doubling: a tuned LR
// carried two doublings beyond the largest rung checked is an extrapolation, not a result.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "analysis/sweep_panels.h"
#include "sweep/ladder_axis.h"

namespace moet::analysis {

// Past this many doublings beyond the ladders, `moet transfer` warns.
constexpr double kReachWarnDoublings = 1;

// The scales of one ladder where an optimum was found (the rungs that were checked).
struct LadderExtent {
  std::string ladder;
  std::vector<sweep::LadderAxis> axes;
  double min_scale = NAN, max_scale = NAN;  // NaN: no optimum anywhere on it
};

// The ladders of `preset`, each with the scales whose LR curve has an optimum (any init std).
std::vector<LadderExtent> ladder_extents(const std::vector<Panel>& panels,
                                         const std::string& preset);

struct AxisReach {
  std::string axis;    // "N", "tokens"
  double ratio = 1;    // target / base along the axis
  std::string ladder;  // the ladder reaching nearest the target; "" when none scales the axis
  double low = NAN, high = NAN;   // the ratios that ladder checked along the axis
  double doublings_beyond = NAN;  // 0 within the ladder; NaN when no ladder scales the axis
  bool warns() const { return doublings_beyond > kReachWarnDoublings + 1e-9; }
  bool untested() const { return std::isnan(doublings_beyond); }
};

// `quantity` (its exponent is ignored) at `ratio` of the base, against every ladder's extent.
AxisReach reach_along(const sweep::LadderAxis& quantity, double ratio,
                      const std::vector<LadderExtent>& extents);

// "N       x16: 2.0 doublings beyond ladder width (x1 to x4)".
std::string reach_text(const AxisReach& reach);

}  // namespace moet::analysis
