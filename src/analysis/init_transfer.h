// Does a tuned init std transfer along a ladder? When a sweep crossed the init std
// (param.init_std) with the LR, each scale of a preset x ladder has one loss-vs-LR curve per init
// std (one panel each, sweep_panels.h). The best loss of each curve, at its own best grid LR,
// gives loss against init std at that scale; its optimum, found by the rule of lr_optimum.h on
// log2(init std), should stay in place up the ladder as the LR's does: muP-style presets promise
// both (microsoft/mup tunes them together).
#pragma once

#include <string>
#include <vector>

#include "analysis/ladder_transfer.h"
#include "analysis/sweep_panels.h"

namespace moet::analysis {

// The default tolerance on the init std's drift, in octaves per doubling: halfway between no
// drift and the half octave per doubling that a fixed sigma0 on hidden weights would need under
// standard parameterization (std ~ fan_in^-1/2).
constexpr double kDefaultInitDriftTolerance = 0.25;

struct InitStdPoint {
  double init_std = 0;
  double log2_lr = NAN;  // the grid LR of the best loss (NaN: no finished, non-diverged trial)
  double loss = NAN;     // the best loss over the LR grid (inf: every LR diverged; NaN: no trials)
};

struct InitCurve {
  double scale = 1;
  std::string shape;
  std::vector<InitStdPoint> points;  // by init std, the same init stds for every scale
  Optimum optimum;                   // in log2(init std)
};

struct InitTransfer {
  std::string preset, ladder;
  std::vector<InitCurve> curves;  // by scale
  Drift drift;
  std::string verdict;  // without the "preset / ladder: " prefix
};

// panels and their analyses in the same order. One entry per preset x ladder whose panels cover
// at least two positive init stds (0, the preset's own default, has no place on a log axis and is
// left out).
std::vector<InitTransfer> analyze_init_transfer(const std::vector<Panel>& panels,
                                                const std::vector<LadderAnalysis>& analyses,
                                                double drift_tolerance);

}  // namespace moet::analysis
