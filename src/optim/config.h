// OptimConfig: the optimizer and LR schedule of a run (keys optim.*).
//
// optim.lr, optim.eps and optim.wd are the *global* hyperparameters tuned on the base shape;
// every tensor's own LR, epsilon and weight decay are these times the parameterization's
// per-role factors (see param/tensor_hyper.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "param/optimizer_kind.h"

namespace moet {

// Each after a linear warmup (optim/schedule.h).
enum class Schedule { constant, cosine, wsd };

const char* name_of(Schedule schedule);

struct OptimConfig {
  OptimizerKind kind = OptimizerKind::adam;
  double lr = 1e-2;  // base (peak) learning rate, eta
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-12;     // base Adam epsilon, eps0
  double wd = 0.0;        // base weight decay, wd0 (adamw: decoupled; sgd/adam: L2)
  double momentum = 0.0;  // sgd only
  double clip = 0.0;      // global gradient-norm clip; 0 = off

  // muon only (the tensors it orthogonalises; the others run AdamW with beta1, beta2, eps)
  double muon_momentum = 0.95;
  bool muon_nesterov = true;
  int muon_steps = 5;  // Newton-Schulz iterations

  Schedule schedule = Schedule::constant;
  double warmup = 0.5;    // warmup length: a fraction of the run if < 1, else steps
  double lr_floor = 0.1;  // cosine/wsd end at lr_floor * peak
  double decay = 0.2;     // wsd: final fraction of the run spent decaying

  bool is_adam() const { return kind != OptimizerKind::sgd; }
};

std::vector<KeySpec> optim_config_keys();
OptimConfig optim_config_from(const Config& config);

}  // namespace moet
