// Resolution: a preset, a depth rule, a base shape and the global hyperparameters, turned into
// every tensor's concrete init, forward multiplier, LR, Adam epsilon and weight decay.
//
// The result is what the model (plan) and the optimizer (hyper, one TensorHyper per tensor in
// model_tensors order) consume, what `moet params` prints (param/table.h), and what a checkpoint
// stores (param/json.h, so a reloaded run keeps exactly these numbers).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "model/layout.h"
#include "model/plan.h"
#include "param/axes.h"
#include "param/optimizer_kind.h"
#include "param/run_horizon.h"
#include "param/settings.h"
#include "param/tensor_hyper.h"

namespace moet::param {

// The global hyperparameters the per-tensor factors multiply.
struct ParamGlobals {
  double init_std = 0;  // sigma0
  double lr = 0;        // eta (optim.lr)
  double eps = 0;       // eps0 (optim.eps)
  double wd = 0;        // wd0 (optim.wd)
  double bias_lr = 0;   // eta_bias (balance.bias_lr), scaled by route_bias's LR cell
};

struct Parameterization {
  std::vector<TensorInfo> tensors;
  ModelPlan plan;
  // Per tensor, absolute values at the schedule's peak. route_bias is not an optimizer tensor:
  // its lr is eta_bias for the balancing rule and its eps and wd are 0. Under SGD every eps is 0.
  std::vector<TensorHyper> hyper;
  std::string preset;  // param.preset as given (built-in name or path)
  std::string source;  // the preset's source line
  std::string regime;  // I | II | III, or "" for presets without regime rules
  std::string depth;   // the depth rule applied
  OptimizerKind optimizer = OptimizerKind::adam;  // which LR column was used
  param::AxisValues base, target;
  // The run and the base run of the rules in D and B (equal under param.run_rules = false).
  RunHorizon base_run, target_run;
  bool run_rules_used = false;  // some cell the model uses has D or B
  ParamGlobals globals;
  std::vector<std::string> warnings;  // also printed to stderr by resolve_parameterization
};

// Reads model.*, param.*, optim.{name,lr,eps,wd} and balance.bias_lr. Throws Error (one line
// naming the key, preset file, role or field) on bad input; prints warnings to stderr.
Parameterization resolve_parameterization(const Config& config);

}  // namespace moet::param
