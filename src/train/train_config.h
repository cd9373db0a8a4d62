// TrainConfig: the run itself — steps, batch, seed, evaluation, logging, checkpoints (train.*).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "model/attention_kernel.h"
#include "model/precision.h"
#include "model/recompute.h"

namespace moet {

struct TrainConfig {
  int64_t steps = 200;
  int64_t batch = 16;       // sequences per micro-batch (B)
  int64_t accum = 1;        // micro-batches per optimizer step
  int64_t seed = 1;         // parameters and data order
  int64_t eval_every = 50;  // 0: only at the end
  int64_t eval_batches = 8;
  int64_t log_every = 10;
  int64_t ckpt_every = 0;       // 0: only at the end
  int64_t threads = 0;          // OpenMP threads; 0: all available; at most kMaxThreads
  double diverge_factor = 1.5;  // stop when the smoothed loss exceeds this times the first loss
  bool save = true;             // write checkpoints (sweeps of many small trials turn it off)
  Precision precision = Precision::fp32;                   // of the model's GEMMs
  AttentionKernel attention = AttentionKernel::automatic;  // model/attention_kernel.h
  Recompute recompute = Recompute::none;                   // model/recompute.h
  int64_t max_memory = 0;       // bytes a run may use (train/run_memory.h); 0: what the machine has
  int64_t expert_parallel = 1;  // E: ranks splitting the experts (docs/distributed.md §3.1)

  int64_t tokens_per_step(int64_t seq) const { return batch * accum * seq; }
};

// Far more threads than any machine moet runs on has cores; libgomp overflows its stack starting
// a team of ~10^5 (a segfault), so train.threads is bounded well below that.
constexpr int64_t kMaxThreads = 1024;

std::vector<KeySpec> train_config_keys();
// The train.* keys a resumed run may change: how long it runs and how it logs, validates,
// checkpoints, uses threads and trades memory for compute (recompute gives the same bits), not
// what it computes (batch, accumulation, seed, precision). A
// new train.steps must go past the checkpoint, and with a decaying schedule the LR follows the
// new length from there on; other threads change rounding.
const std::vector<std::string>& resumable_train_keys();
TrainConfig train_config_from(const Config& config);

}  // namespace moet
