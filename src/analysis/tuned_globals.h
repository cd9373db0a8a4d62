// The global hyperparameters a sweep tuned at its base shape, for one preset: the optimal LR
// (and init std, when it was swept) at the base scale of a ladder, with that ladder's verdict
// beside it so `moet transfer` can say how far the numbers are known to carry.
#pragma once

#include <string>
#include <vector>

#include "analysis/ladder_transfer.h"
#include "analysis/sweep_panels.h"

namespace moet::analysis {

struct TunedGlobals {
  std::string preset, ladder;
  double log2_lr = NAN;  // the base's optimum (fitted or grid, see Optimum.kind)
  OptimumKind kind = OptimumKind::none;
  double base_loss = NAN;  // loss of the best base trial
  double base_scale = 1;
  double init_std = 0;  // param.init_std of the chosen panel (0: the preset's default)
  bool init_swept = false;
  std::string base_trial;  // key of a trial at the base scale (its config carries param.*)
  std::string verdict;     // the ladder's verdict
};

// preset: "" picks the only preset (an Error when there are several); ladder: "" picks the first
// ladder of the spec that has the preset. Across swept init stds, the one whose base optimum has
// the lowest loss wins. Throws Error naming the choices when a name is unknown or no base trial
// finished.
TunedGlobals tune_globals(const std::vector<Panel>& panels, const std::string& preset,
                          const std::string& ladder, double drift_tolerance);

}  // namespace moet::analysis
