// StepRunner: one optimizer step of a run — gradients accumulated over micro-batches, the global
// clip, the LR schedule, the optimizer update, then the balancing-bias rule.
//
// The trainer and the coordinate check both step through this, so a coordinate check trains
// exactly as `moet train` does (same accumulation, clipping, schedule and bias rule).
//
// Data parallel (train/data_parallel.h): every rank runs the step on its rows of each batch; the
// statistics are the whole batch's and every rank computes the same step as one process would.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "train/data_parallel.h"

namespace moet {

struct StepStats {
  double loss = 0, aux_loss = 0, z_loss = 0;  // means over the micro-batches (global batches)
  double grad_norm = 0;                       // before clipping
  double lr_factor = 0;                       // the schedule's factor used for this step
  // Per MoE block (in block order), tokens that chose each expert over the whole step (all ranks).
  std::vector<std::vector<int64_t>> counts;
  std::vector<RoutingStats> last_routing;  // of the last micro-batch
};

class StepRunner {
 public:
  // hyper is the parameterization's per-tensor settings (route_bias's lr is eta_bias). One
  // process: the model takes the loader's whole batches and the optimizer owns every parameter.
  StepRunner(Model<float>& model, Optimizer& optimizer,
             const std::vector<param::TensorHyper>& hyper, int64_t accum, int64_t total_steps);
  // Data parallel: the model runs ranks' rows of each batch, the optimizer ranks.make_optimizer's.
  StepRunner(Model<float>& model, Optimizer& optimizer,
             const std::vector<param::TensorHyper>& hyper, int64_t accum, int64_t total_steps,
             DataParallel& ranks);

  // Step number `step` (0-based): reads accum batches from loader and updates the model.
  StepStats run(BatchLoader& loader, int64_t step);
  ~StepRunner();

  int64_t tokens_per_step() const { return ranks_.global_batch() * model_.config().seq * accum_; }

 private:
  struct Alone;  // the one-process constructor's world of one rank
  StepRunner(Model<float>& model, Optimizer& optimizer,
             const std::vector<param::TensorHyper>& hyper, int64_t accum, int64_t total_steps,
             DataParallel* ranks, std::unique_ptr<Alone> alone);

  Model<float>& model_;
  Optimizer& optimizer_;
  std::unique_ptr<Alone> alone_;
  DataParallel& ranks_;
  int64_t accum_, total_steps_;
  // Balancing-bias tensors, one per MoE block in block order (the order of model.routing()),
  // with eta_bias as the parameterization resolved it.
  std::vector<float*> route_bias_;
  std::vector<double> eta_bias_;
  std::vector<int32_t> inputs_, targets_;  // a global batch
};

}  // namespace moet
