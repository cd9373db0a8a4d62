// The param.* settings of a run: which preset, regime and depth rule, sigma0, the base shape and
// the base run (token budget and batch).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "model/config.h"
#include "param/axes.h"
#include "param/run_horizon.h"

namespace moet::param {

// param.* keys, registered in train/schema.cpp.
std::vector<KeySpec> param_config_keys();

struct ParamSettings {
  std::string preset;  // built-in name or path
  std::string regime;  // auto | I | II | III
  // param.depth: a depth rule name, or none for `preset` (the preset's own default rule)
  std::optional<std::string> depth;
  double init_std = 0;  // sigma0; 0 = the preset's default
  AxisValues base;      // zeros already replaced by the target's values
  // The run (symbols D and B) and the base run eta was tuned on (param.base.tokens, .batch; zeros
  // replaced by the run's own). param.run_rules = false sets the base to the run: D = B = 1.
  RunHorizon run, base_run;
  bool run_rules = true;
};

// Reads param.* against the target model; throws Error naming the first bad key.
ParamSettings param_settings_from(const Config& config, const ModelConfig& target);

}  // namespace moet::param
