// The LR optimum on synthetic curves with known optima: exact recovery between grid points,
// asymmetric and noisy curves, minima at the grid's edge, below or above a diverged point, flat
// curves, and all-diverged curves.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "analysis/lr_optimum.h"

namespace moet::analysis {
namespace {

std::vector<LossPoint> curve(double from, double to, double step, double (*loss)(double)) {
  std::vector<LossPoint> points;
  for (double x = from; x <= to + 1e-9; x += step) points.push_back({x, loss(x)});
  return points;
}

TEST(LrOptimum, RecoversAParabolasVertexBetweenGridPoints) {
  const auto points =
      curve(-12, -4, 1, [](double x) { return 3.0 + 0.04 * (x + 7.3) * (x + 7.3); });
  const Optimum o = find_optimum(points);
  EXPECT_EQ(o.kind, OptimumKind::fit);
  EXPECT_NEAR(o.log2_x, -7.3, 1e-9);
  EXPECT_NEAR(o.fitted_loss, 3.0, 1e-9);
  EXPECT_EQ(o.grid_log2_x, -7);
  EXPECT_NEAR(o.loss, 3.0 + 0.04 * 0.09, 1e-12) << "loss is the measured grid minimum";
}

TEST(LrOptimum, IgnoresInputOrder) {
  auto points = curve(-10, -2, 0.5, [](double x) { return 2.0 + 0.1 * (x + 5.8) * (x + 5.8); });
  const Optimum sorted = find_optimum(points);
  std::reverse(points.begin(), points.end());
  std::swap(points[1], points[6]);
  const Optimum shuffled = find_optimum(points);
  EXPECT_EQ(shuffled.kind, OptimumKind::fit);
  EXPECT_NEAR(shuffled.log2_x, -5.8, 1e-9);
  EXPECT_DOUBLE_EQ(sorted.log2_x, shuffled.log2_x);
}

TEST(LrOptimum, AsymmetricCurvesLandWithinHalfAGridStep) {
  // Steep on the high-LR side, as loss-vs-LR curves are: exp(u) - u has its minimum at u = 0.
  for (const double x0 : {-8.0, -7.75, -7.5, -7.25}) {
    std::vector<LossPoint> points;
    for (double x = -12; x <= -3; x += 1)
      points.push_back({x, 3 + 0.3 * (std::exp(x - x0) - (x - x0))});
    const Optimum o = find_optimum(points);
    EXPECT_EQ(o.kind, OptimumKind::fit) << x0;
    EXPECT_NEAR(o.log2_x, x0, 0.5) << x0;
  }
}

TEST(LrOptimum, NoisyCurvesStayNearTheTrueOptimum) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> noise(-0.004, 0.004);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<LossPoint> points;
    for (double x = -12; x <= -4; x += 1)
      points.push_back({x, 3 + 0.05 * (x + 7.6) * (x + 7.6) + noise(rng)});
    const Optimum o = find_optimum(points);
    EXPECT_NE(o.kind, OptimumKind::none);
    EXPECT_NEAR(o.log2_x, -7.6, 0.5) << "trial " << trial;
  }
}

TEST(LrOptimum, AMinimumAtTheGridEdgeIsReportedAsSuch) {
  const auto rising = curve(-10, -5, 1, [](double x) { return 3 + 0.1 * (x + 12); });
  Optimum o = find_optimum(rising);
  EXPECT_EQ(o.kind, OptimumKind::edge);
  EXPECT_EQ(o.log2_x, -10);
  const auto falling = curve(-10, -5, 1, [](double x) { return 3 - 0.1 * (x + 12); });
  o = find_optimum(falling);
  EXPECT_EQ(o.kind, OptimumKind::edge);
  EXPECT_EQ(o.log2_x, -5);
}

TEST(LrOptimum, AMinimumJustBelowADivergedPointIsTheLargestStableValue) {
  // The loss falls up to 2^-3, but 2^-5 and 2^-4 diverged: 2^-6 is the best LR that trains, and
  // the optimum cannot lie past 2^-5 (SGD's edge of stability).
  auto points = curve(-10, -4, 1, [](double x) { return 3 + 0.05 * (x + 3) * (x + 3); });
  points.back().loss = INFINITY;         // -4 diverged
  points[points.size() - 2].loss = NAN;  // -5 too (NaN and inf both mean diverged)
  const Optimum o = find_optimum(points);
  EXPECT_EQ(o.kind, OptimumKind::below_divergence);
  EXPECT_STREQ(optimum_kind_name(o.kind), "below-divergence");
  EXPECT_EQ(o.log2_x, -6);
  EXPECT_EQ(o.grid_log2_x, -6);
  EXPECT_TRUE(std::isfinite(o.loss));
}

TEST(LrOptimum, AMinimumBesideADivergedPointWithNothingTrainedOnItsOtherSideIsAnEdge) {
  // The minimum at the grid's bottom, the next LR diverged: the optimum may lie lower.
  auto bottom = curve(-10, -6, 1, [](double x) { return 3 + 0.05 * (x + 12) * (x + 12); });
  bottom[1].loss = INFINITY;
  EXPECT_EQ(find_optimum(bottom).kind, OptimumKind::edge);
  // The minimum just above a diverged LR: a curve that broke below it, the optimum may lie there.
  auto above = curve(-10, -4, 1, [](double x) { return 3 + 0.05 * (x + 8) * (x + 8); });
  above[1].loss = INFINITY;  // -9 diverged, the minimum at -8 just above it
  const Optimum o = find_optimum(above);
  EXPECT_EQ(o.grid_log2_x, -8);
  EXPECT_EQ(o.kind, OptimumKind::edge);
}

TEST(LrOptimum, DivergedPointsBeyondTheNeighboursDoNotSpoilTheFit) {
  auto points = curve(-12, -3, 1, [](double x) { return 3 + 0.05 * (x + 8.2) * (x + 8.2); });
  points.back().loss = INFINITY;  // -3 diverged, far from the minimum at -8
  const Optimum o = find_optimum(points);
  EXPECT_EQ(o.kind, OptimumKind::fit);
  EXPECT_NEAR(o.log2_x, -8.2, 1e-9);
}

TEST(LrOptimum, AFlatCurveFallsBackToTheGridMinimum) {
  const auto flat = curve(-10, -4, 1, [](double) { return 3.0; });
  const Optimum o = find_optimum(flat);
  EXPECT_EQ(o.kind, OptimumKind::argmin);
  EXPECT_EQ(o.log2_x, o.grid_log2_x);
  EXPECT_EQ(o.log2_x, -10) << "ties go to the first (smallest) LR";
}

TEST(LrOptimum, TiesAndAnUnevenGridPutTheVertexBetweenTheTiedPoints) {
  // The tie at -8 and -7.5 goes to -8; the parabola through (-9, -8, -7.5) has its vertex halfway
  // between the tied points.
  const std::vector<LossPoint> points = {{-9, 3.2}, {-8, 3.0}, {-7.5, 3.0}, {-6, 3.4}};
  const Optimum o = find_optimum(points);
  EXPECT_EQ(o.kind, OptimumKind::fit);
  EXPECT_EQ(o.grid_log2_x, -8);
  EXPECT_NEAR(o.log2_x, -7.75, 1e-9);
}

TEST(LrOptimum, TheVertexNeverLeavesTheMinimumsNeighbours) {
  // However lopsided the neighbours, the estimate stays between them.
  for (const double right : {3.0001, 3.01, 3.5, 30.0}) {
    const std::vector<LossPoint> points = {{-8, 3.5}, {-7, 3.0}, {-6, right}};
    const Optimum o = find_optimum(points);
    EXPECT_EQ(o.kind, OptimumKind::fit);
    EXPECT_GE(o.log2_x, -7.5) << right;
    EXPECT_LE(o.log2_x, -6.5) << right;
  }
}

TEST(LrOptimum, EveryPointDivergedMeansNoOptimum) {
  std::vector<LossPoint> points = {{-3, INFINITY}, {-2, NAN}};
  EXPECT_EQ(find_optimum(points).kind, OptimumKind::none);
  EXPECT_EQ(find_optimum({}).kind, OptimumKind::none);
}

}  // namespace
}  // namespace moet::analysis
