// The results database regrouped for analysis: one panel per preset x ladder (x init std, when
// init std was swept), holding each scale's loss-vs-LR curve with seeds folded into mean and
// range. Which loss: validation by default, or training, or an extra validation set by name.
#pragma once

#include <string>
#include <vector>

#include "analysis/ladder_transfer.h"
#include "sweep/results_store.h"

namespace moet::analysis {

struct Panel {
  std::string preset, ladder, axes;
  double init_std = 0;             // param.init_std of its trials (0: the preset's default)
  bool init_swept = false;         // the ladder has panels for several init stds
  std::vector<ScaleCurve> curves;  // by scale
  // trial_keys[scale][point]: the trials behind each LR point, for their loss curves.
  std::vector<std::vector<std::vector<std::string>>> trial_keys;
  int unfinished = 0;  // pending or running trials
  int failed = 0;
};

// "val" (validation loss), "train" (last logged training loss), or an extra validation set's
// name ("moby" for the bundled Moby-Dick text).
double trial_metric(const sweep::TrialRecord& trial, const std::string& metric);
// The metric names the trials carry.
std::vector<std::string> available_metrics(const std::vector<sweep::TrialRecord>& trials);

// Throws Error naming the metric when no trial has it.
std::vector<Panel> build_panels(const std::vector<sweep::TrialRecord>& trials,
                                const std::string& metric);

}  // namespace moet::analysis
