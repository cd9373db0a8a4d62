#include "train/run_memory.h"

#include <omp.h>

#include "core/byte_size.h"
#include "core/error.h"
#include "core/system_memory.h"
#include "data/dataset.h"
#include "optim/config.h"
#include "train/train_config.h"

namespace moet {

namespace {

MemoryPlan plan_for(const Config& config, RunKind kind, int64_t threads) {
  const TrainConfig tc = train_config_from(config);
  MemoryPlan plan;
  plan.batch = tc.batch;
  plan.threads = threads > 0 ? threads : tc.threads > 0 ? tc.threads : omp_get_max_threads();
  plan.precision = tc.precision;
  plan.attention = tc.attention;
  // The coordinate probe reads every block's activations, so its model keeps them all.
  plan.recompute = kind == RunKind::coord ? Recompute::none : tc.recompute;
  plan.optimizer_buffers = optim_config_from(config).is_adam() ? 2 : 1;
  plan.data_bytes = kind == RunKind::bench ? 0 : data_memory_bytes(data_config_from(config));
  // Writing a checkpoint (checkpoint.cpp) holds a Checkpoint with copies of the parameters and
  // moments, their safetensors tensors, and the encoded bytes of the larger file (the
  // optimizer's): 1 + b, 1 + b and b copies for b optimizer buffers. A resumed run also keeps
  // the checkpoint it started from (1 + b).
  const int64_t buffers = plan.optimizer_buffers;
  if (kind == RunKind::train || kind == RunKind::resume)
    plan.parameter_copies = tc.save ? 2 + 3 * buffers : 0;
  if (kind == RunKind::resume) plan.parameter_copies += 1 + buffers;
  // The coordinate probe keeps W_0, the step-0 layer inputs and logits, forms one update at a
  // time and the logits at W_t whole (coord/probe.cpp).
  if (kind == RunKind::coord)
    plan.parameter_copies = 2, plan.activation_copies = 1, plan.logit_copies = 2;
  return plan;
}

}  // namespace

RunMemory run_memory(const Config& config, RunKind kind, int64_t threads) {
  const ModelConfig model = model_config_from(config);
  RunMemory memory;
  const MemoryPlan plan = plan_for(config, kind, threads);
  memory.estimate = estimate_training_memory(model, plan);
  memory.recompute = plan.recompute;
  const int64_t max_memory = train_config_from(config).max_memory;
  if (max_memory > 0) {
    memory.limit = max_memory;
    memory.limit_source = "allowed by train.max_memory";
  } else {
    const SystemMemory system = system_memory();
    memory.limit = system.bytes;
    memory.limit_source = system.source;
  }
  return memory;
}

std::string RunMemory::line() const {
  const std::string with = recompute == Recompute::none ? ""
                                                        : fmt::format(" with train.recompute = {}",
                                                                      recompute_name(recompute));
  return fmt::format("memory: {} estimated{} ({}) of {} {}", format_bytes(estimate.total), with,
                     estimate.breakdown(), format_bytes(limit), limit_source);
}

void RunMemory::require_fits(const std::string& context) const {
  if (estimate.overflows())
    fail("{}memory: the estimate overflows int64 bytes ({} alone does): the shape or batch is far "
         "too large",
         context, estimate.overflow);
  if (estimate.total > limit)
    fail("{}memory: {} estimated ({}), more than the {} {}; shrink the model or train.batch, {}or "
         "set train.max_memory",
         context, format_bytes(estimate.total), estimate.breakdown(), format_bytes(limit),
         limit_source, recompute == Recompute::block ? "" : "set train.recompute = block, ");
}

}  // namespace moet
