// The error measure of the kernel tests that compare one kernel with another: the largest
// absolute difference relative to the largest entry of the reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "worst.h"

namespace moet::testing {

// max |a - b| / max(max |b|, floor); NaN anywhere in a gives NaN (fails every comparison). The
// floor is for references that are cancellations of O(1) terms (an exact zero that rounding does
// not reproduce).
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b,
                             double floor = 1e-300) {
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(a[i] - b[i]);
    err = worse(err, e);
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / std::max(scale, floor);
}

}  // namespace moet::testing
