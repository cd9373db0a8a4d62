// The running worst of an error, as the tests fold it over a tensor: a NaN error sticks.
// std::max(worst, NaN) returns worst, so a result that is NaN everywhere would leave the worst
// at 0 and pass every bound.
#pragma once

#include <algorithm>
#include <cmath>

namespace moet::testing {

inline double worse(double worst, double error) {
  return std::isnan(error) ? error : std::max(worst, error);
}

}  // namespace moet::testing
