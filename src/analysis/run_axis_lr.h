// The LR for a target that trains on another token budget or batch than the sweep's base: the
// power law of the optimum along a ladder that scales the tokens alone (or the batch alone),
// read at the target's ratio to the base, with its 95% prediction band. Given both, the token
// law gives the value and the batch law adds its slope (the two assumed to act independently
// in log LR), their bands added in quadrature.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "analysis/sweep_panels.h"

namespace moet::analysis {

struct RunTargets {
  double tokens_ratio = NAN;  // target tokens / base tokens; NaN: not asked
  double batch_ratio = NAN;   // target batch / base batch; NaN: not asked
};

struct RunAxisLr {
  double log2_lr = NAN;
  double half_width = NAN;                  // of the 95% band, in octaves; NaN with two-point fits
  std::string source;                       // "the power law in tokens of ladder horizon at x16"
  std::string tokens_ladder, batch_ladder;  // the ladders fitted; "" for an axis not asked
  std::vector<std::string> lines;           // each fit and the prediction, for printing
};

// Throws Error (naming --target-tokens or --target-batch) when no ladder of `preset` at
// `init_std` scales that axis alone, or when its optima give no fit.
RunAxisLr predict_run_axis_lr(const std::vector<Panel>& panels, const std::string& preset,
                              double init_std, const RunTargets& targets);

}  // namespace moet::analysis
