// The peak measurement runs and returns a plausible figure; its speed is never asserted.
#include "kernels/peak.h"

#include <gtest/gtest.h>

#include <cmath>

namespace moet {
namespace {

TEST(Peak, ReturnsPositiveFiniteFigures) {
  const double fp32 = measure_fp32_peak_gflops(0.02);
  EXPECT_GT(fp32, 0);
  EXPECT_TRUE(std::isfinite(fp32));
  const double bf16 = measure_bf16_dot_peak_gflops(0.02);
  if (cpu_has_avx512_bf16())
    EXPECT_GT(bf16, 0);
  else
    EXPECT_EQ(bf16, 0);
}

}  // namespace
}  // namespace moet
