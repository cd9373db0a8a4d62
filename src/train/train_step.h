// StepRunner: one optimizer step of a run — gradients accumulated over micro-batches, the global
// clip, the LR schedule, the optimizer update, then the balancing-bias rule.
//
// The trainer and the coordinate check both step through this, so a coordinate check trains
// exactly as `moet train` does (same accumulation, clipping, schedule and bias rule).
#pragma once

#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "model/model.h"
#include "optim/optimizer.h"

namespace moet {

struct StepStats {
  double loss = 0, aux_loss = 0, z_loss = 0;  // means over the micro-batches
  double grad_norm = 0;                       // before clipping
  double lr_factor = 0;                       // the schedule's factor used for this step
  // Per MoE block (in block order), tokens that chose each expert over the whole step.
  std::vector<std::vector<int64_t>> counts;
  std::vector<RoutingStats> last_routing;  // of the last micro-batch
};

class StepRunner {
 public:
  // hyper is the parameterization's per-tensor settings (route_bias's lr is eta_bias).
  StepRunner(Model<float>& model, Optimizer& optimizer,
             const std::vector<param::TensorHyper>& hyper, int64_t accum, int64_t total_steps);

  // Step number `step` (0-based): reads accum batches from loader and updates the model.
  StepStats run(BatchLoader& loader, int64_t step);

  int64_t tokens_per_step() const { return model_.rows() * accum_; }

 private:
  Model<float>& model_;
  Optimizer& optimizer_;
  int64_t accum_, total_steps_;
  // Balancing-bias tensors, one per MoE block in block order (the order of model.routing()),
  // with eta_bias as the parameterization resolved it.
  std::vector<float*> route_bias_;
  std::vector<double> eta_bias_;
  std::vector<int32_t> inputs_, targets_;
};

}  // namespace moet
