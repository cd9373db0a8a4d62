// The LR predicted along a tokens ladder from hand-made panels: the ladder's own init std when
// the tuned one was not run on it (said in the fit's line), the tuned one when it was.
#include "analysis/run_axis_lr.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace moet::analysis {
namespace {

// A tokens ladder whose optimal log2 LR at x1, x2, x4, x8 is shift + (-5, -4.5, -4.2, -3.4):
// power_law_test.cpp's hand-computed case, x16 predicted at shift - 3.00 ± 1.04.
Panel horizon_panel(double init_std, double shift) {
  Panel p;
  p.preset = "completep-moe";
  p.ladder = "horizon";
  p.axes = "tokens";
  p.init_std = init_std;
  const double optima[] = {-5, -4.5, -4.2, -3.4};
  for (int i = 0; i < 4; ++i) {
    ScaleCurve c;
    c.scale = std::exp2(i);
    for (double x = -10; x <= 0; x += 1) {
      const double loss = 3 + 0.04 * (x - optima[i] - shift) * (x - optima[i] - shift);
      c.points.push_back({x, loss, loss, loss, 1, 0, {{1, loss}}});
    }
    p.curves.push_back(c);
  }
  return p;
}

TEST(RunAxisLr, TheTunedInitStdWhenTheLadderRanItElseTheLaddersOwnSaidSo) {
  RunTargets x16;
  x16.tokens_ratio = 16;
  const RunAxisLr own = predict_run_axis_lr({horizon_panel(0.02, 0)}, "completep-moe", 0.08, x16);
  EXPECT_NEAR(own.log2_lr, -3.0, 1e-9);
  EXPECT_NEAR(own.half_width, 4.3027 * 0.2423840, 1e-5);
  EXPECT_NE(own.lines[0].find("(at init std 0.02, not the tuned 0.08: the ladder did not run it)"),
            std::string::npos)
      << own.lines[0];

  const RunAxisLr tuned = predict_run_axis_lr({horizon_panel(0.02, 0), horizon_panel(0.08, -1)},
                                              "completep-moe", 0.08, x16);
  EXPECT_NEAR(tuned.log2_lr, -4.0, 1e-9);
  EXPECT_EQ(tuned.lines[0].find("not the tuned"), std::string::npos) << tuned.lines[0];

  EXPECT_THROW(predict_run_axis_lr({horizon_panel(0.02, 0)}, "sp", 0.02, x16), Error);
}

}  // namespace
}  // namespace moet::analysis
