// The power law of an optimum against a ladder's scale: the least-squares line in log2, its
// residuals and 95% prediction band, checked against a case computed by hand.
#include "analysis/power_law.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace moet::analysis {
namespace {

// x = log2 scale 0..3 (x1..x8), y = optimal log2 LR. By hand: mean x 1.5, mean y -4.275,
// Sxx 5, Sxy 2.55, so slope 0.51 and intercept -5.04; residuals +0.04, +0.03, -0.18, +0.11;
// SSR 0.047, s^2 = 0.047 / 2, s = 0.1532971; slope s.e. s / sqrt(5) = 0.0685565. At x = 4
// (x16): -5.04 + 2.04 = -3.00; prediction s.e. s sqrt(1 + 1/4 + 2.5^2 / 5) = s sqrt(2.5) =
// 0.2423840, times t(0.975, 2 df) = 4.3027 gives a half-width of 1.04290.
const std::vector<double> kX = {0, 1, 2, 3}, kY = {-5, -4.5, -4.2, -3.4};

TEST(PowerLaw, TheFitItsResidualsAndItsBandMatchAHandComputedCase) {
  const PowerLawFit f = fit_power_law(kX, kY);
  EXPECT_NEAR(f.slope, 0.51, 1e-12);
  EXPECT_NEAR(f.intercept, -5.04, 1e-12);
  const double residuals[] = {0.04, 0.03, -0.18, 0.11};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(f.residuals[i], residuals[i], 1e-12) << i;
  EXPECT_NEAR(f.residual_sd, 0.1532971, 1e-7);
  EXPECT_NEAR(f.slope_se, 0.0685565, 1e-7);
  const PowerLawPrediction p = predict(f, 4);
  EXPECT_NEAR(p.log2_y, -3.0, 1e-12);
  EXPECT_NEAR(p.half_width, 4.3027 * 0.2423840, 1e-5);
  // The band widens away from the ladder's middle.
  EXPECT_LT(predict(f, 1.5).half_width, predict(f, 3).half_width);
  EXPECT_LT(predict(f, 3).half_width, p.half_width);
}

TEST(PowerLaw, TwoPointsGiveALineWithoutABandAndOnePointIsAnError) {
  const PowerLawFit f = fit_power_law({0, 2}, {-5, -4});
  EXPECT_DOUBLE_EQ(f.slope, 0.5);
  EXPECT_TRUE(std::isnan(f.slope_se));
  EXPECT_TRUE(std::isnan(predict(f, 3).half_width));
  EXPECT_DOUBLE_EQ(predict(f, 3).log2_y, -3.5);
  EXPECT_THROW(fit_power_law({1}, {-5}), Error);
  EXPECT_THROW(fit_power_law({1, 1}, {-5, -4}), Error);
}

TEST(PowerLaw, StudentQuantilesFromTheTableAndBeyondIt) {
  EXPECT_NEAR(student_t_975(1), 12.7062, 1e-4);
  EXPECT_NEAR(student_t_975(2), 4.3027, 1e-4);
  EXPECT_NEAR(student_t_975(30), 2.0423, 1e-4);
  EXPECT_NEAR(student_t_975(40), 2.0211, 2e-4);
  EXPECT_NEAR(student_t_975(120), 1.9799, 2e-4);
}

TEST(PowerLaw, EdgeOptimaAreLeftOutOfTheOptimumTrendAndNamed) {
  std::vector<Optimum> optima(5);
  const OptimumKind kinds[] = {OptimumKind::fit, OptimumKind::fit, OptimumKind::argmin,
                               OptimumKind::fit, OptimumKind::edge};
  const double y[] = {-5, -4.5, -4.2, -3.4, -1};
  for (size_t i = 0; i < 5; ++i) optima[i].kind = kinds[i], optima[i].log2_x = y[i];
  const OptimumTrend t = optimum_trend({1, 2, 4, 8, 16}, optima, "tokens");
  ASSERT_TRUE(t.fitted);
  EXPECT_NEAR(t.fit.slope, 0.51, 1e-12) << "the x16 edge optimum is not in the fit";
  EXPECT_EQ(t.left_out, std::vector<std::string>{"x16 (edge)"});
  EXPECT_EQ(t.text,
            "optimum against tokens: lr* ∝ tokens^+0.510 (±0.069 s.e.), log2 lr* = -5.04 +0.510 "
            "log2(x); residuals (octaves) +0.04 at x1, +0.03 at x2, -0.18 at x4, +0.11 at x8; "
            "left out: x16 (edge)");
  optima[1].kind = OptimumKind::none;
  optima[2].kind = OptimumKind::edge;
  optima[3].kind = OptimumKind::edge;
  EXPECT_FALSE(optimum_trend({1, 2, 4, 8, 16}, optima, "tokens").fitted);
}

}  // namespace
}  // namespace moet::analysis
