// The init std's optimum along a ladder, from synthetic panels (one per init std): found between
// grid points, its drift judged against the tolerance, the preset's default (0) and single-value
// sweeps left out.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "analysis/init_transfer.h"

namespace moet::analysis {
namespace {

// loss(scale, lr, init std): a parabola in log2 LR (optimum 2^-6) plus one in log2 init std whose
// optimum log2_std_opt(scale) the test chooses; larger scales are better.
Panel panel(const std::string& preset, double init_std, const std::vector<double>& scales,
            const std::function<double(double)>& log2_std_opt) {
  Panel p;
  p.preset = preset;
  p.ladder = "width";
  p.axes = "N,Ne";
  p.init_std = init_std;
  p.init_swept = true;
  for (const double scale : scales) {
    ScaleCurve c;
    c.scale = scale;
    c.shape = "N=" + std::to_string(int(32 * scale));
    for (double x = -9; x <= -3; x += 1) {
      const double s = std::log2(init_std) - log2_std_opt(scale);
      LrPoint q;
      q.log2_lr = x;
      q.mean = q.min = q.max =
          3.0 - 0.1 * std::log2(scale) + 0.03 * (x + 6) * (x + 6) + 0.05 * s * s;
      q.seeds = 1;
      c.points.push_back(q);
    }
    p.curves.push_back(c);
  }
  return p;
}

std::vector<InitTransfer> analyze(const std::vector<Panel>& panels, double tolerance) {
  std::vector<LadderAnalysis> analyses;
  for (const Panel& p : panels) analyses.push_back(analyze_ladder(p.curves, 0.5));
  return analyze_init_transfer(panels, analyses, tolerance);
}

TEST(InitTransfer, AFixedOptimumTransfersAndIsFoundBetweenGridPoints) {
  const auto fixed = [](double) { return std::log2(0.03); };  // between 0.02 and 0.04
  std::vector<Panel> panels;
  for (const double std : {0.01, 0.02, 0.04, 0.08})
    panels.push_back(panel("mup", std, {1, 4}, fixed));
  const auto inits = analyze(panels, kDefaultInitDriftTolerance);
  ASSERT_EQ(inits.size(), 1u);
  const InitTransfer& t = inits[0];
  EXPECT_EQ(t.preset, "mup");
  ASSERT_EQ(t.curves.size(), 2u);
  EXPECT_EQ(t.curves[1].scale, 4);
  ASSERT_EQ(t.curves[1].points.size(), 4u);
  EXPECT_EQ(t.curves[1].points[2].init_std, 0.04);
  EXPECT_EQ(t.curves[1].points[2].log2_lr, -6) << "each init std at its own best grid LR";
  for (const InitCurve& c : t.curves) {
    EXPECT_EQ(c.optimum.kind, OptimumKind::fit);
    EXPECT_NEAR(c.optimum.log2_x, std::log2(0.03), 1e-9) << "exact for a parabola in log2 std";
  }
  EXPECT_NEAR(t.drift.octaves, 0, 1e-9);
  EXPECT_TRUE(t.drift.holds);
  EXPECT_EQ(t.verdict,
            "init std: optimum drifts +0.00 octaves over 4x (+0.00 per doubling): transfers "
            "(within ±0.25 per doubling) (best init std x1 0.03, x4 0.03)");
}

TEST(InitTransfer, AnOptimumFallingLikeFanInToTheMinusHalfDoesNotTransfer) {
  const auto sp_like = [](double scale) { return std::log2(0.08) - 0.5 * std::log2(scale); };
  std::vector<Panel> panels;
  for (const double std : {0.005, 0.01, 0.02, 0.04, 0.08, 0.16})
    panels.push_back(panel("sp", std, {1, 2, 4}, sp_like));
  auto inits = analyze(panels, kDefaultInitDriftTolerance);
  ASSERT_EQ(inits.size(), 1u);
  EXPECT_NEAR(inits[0].drift.octaves, -1.0, 1e-9);
  EXPECT_NEAR(inits[0].drift.per_doubling, -0.5, 1e-9);
  EXPECT_FALSE(inits[0].drift.holds);
  EXPECT_NE(inits[0].verdict.find("does not transfer (beyond ±0.25 per doubling)"),
            std::string::npos)
      << inits[0].verdict;
  EXPECT_TRUE(analyze(panels, 0.6)[0].drift.holds) << "the tolerance is the caller's";
}

TEST(InitTransfer, AnOptimumAtTheGridEdgeIsABoundNotAClaim) {
  const auto beyond = [](double) { return std::log2(0.5); };
  std::vector<Panel> panels;
  for (const double std : {0.02, 0.08}) panels.push_back(panel("sp", std, {1, 4}, beyond));
  const auto inits = analyze(panels, kDefaultInitDriftTolerance);
  ASSERT_EQ(inits.size(), 1u);
  EXPECT_EQ(inits[0].curves[0].optimum.kind, OptimumKind::edge);
  EXPECT_TRUE(inits[0].drift.is_bound);
  EXPECT_FALSE(inits[0].drift.holds);
  EXPECT_NE(inits[0].verdict.find("uncertain: the best init std at x1 is at the edge"),
            std::string::npos)
      << inits[0].verdict;
}

TEST(InitTransfer, TheDefaultInitStdAndUnsweptLaddersAreLeftOut) {
  const auto fixed = [](double) { return std::log2(0.03); };
  std::vector<Panel> panels = {panel("mup", 0, {1, 4}, fixed), panel("mup", 0.02, {1, 4}, fixed)};
  EXPECT_TRUE(analyze(panels, 0.25).empty()) << "one positive init std: nothing to fit";
  panels.push_back(panel("mup", 0.04, {1, 4}, fixed));
  const auto inits = analyze(panels, 0.25);
  ASSERT_EQ(inits.size(), 1u);
  EXPECT_EQ(inits[0].curves[0].points.size(), 2u) << "init std 0 has no place on a log axis";
  panels.push_back(panel("mup", 0.08, {1}, fixed));  // x4 not run yet at 0.08
  const auto partial = analyze(panels, 0.25);
  ASSERT_EQ(partial[0].curves[1].points.size(), 3u) << "every scale lists every init std";
  EXPECT_EQ(partial[0].curves[1].points[2].init_std, 0.08);
  EXPECT_TRUE(std::isnan(partial[0].curves[1].points[2].loss));
  Panel unswept = panel("sp", 0.02, {1, 4}, fixed);
  unswept.init_swept = false;
  panels.push_back(unswept);
  EXPECT_EQ(analyze(panels, 0.25).size(), 1u);
}

}  // namespace
}  // namespace moet::analysis
