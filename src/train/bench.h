// The training-throughput benchmark behind `moet bench`: forward + backward + Adam steps of a
// fixed model on random tokens, timed after warm-up, reported as tokens/s, achieved GFLOP/s
// (model/flops.h), the fraction of this machine's fp32 peak measured in the same run, the time
// split by phase and the peak RSS.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "dist/world.h"

namespace moet {

// The named configurations (docs/performance.md), as --set assignments over the defaults:
// tiny  = {N 128, L 4, heads 4, M 8, K 2, Ne 128, vocab 256, seq 256, batch 16}
// small = {N 512, L 4, heads 8, M 16, K 4, Ne 512, vocab 8192, seq 512, batch 8}
// Both: LayerNorm, learned positions, tied embeddings, GELU experts, sigmoid router, 1/K
// aggregation, attention logit scale 1/d_head, bias balancing (the completep-moe preset).
std::vector<std::string> bench_preset(const std::string& name);  // throws Error on unknown names
std::vector<std::string> bench_preset_names();

struct BenchResult {
  std::string name;
  int64_t steps = 0;
  int64_t tokens_per_step = 0;
  double seconds = 0;
  double tokens_per_s = 0;
  double gflops_per_s = 0;
  double peak_gflops_per_s = 0;  // measured fp32 FMA peak, same threads
  std::string peak_unit;         // the vectors it is measured in: kernels/peak.h
  double peak_fraction = 0;
  std::string precision;  // train.precision of the run
  std::string recompute;  // train.recompute of the run
  // bf16 runs only: the peak of the fastest bf16 unit present (kernels/peak.h), "none" and 0
  // otherwise.
  std::string bf16_peak_unit = "none";
  double bf16_peak_gflops_per_s = 0;
  double bf16_peak_fraction = 0;
  double peak_rss_mb = 0;
  double memory_estimate_mb = 0;  // train/run_memory.h's estimate, checked before allocating
  int threads = 0;
  int64_t params = 0, active_params = 0;
  // Wall-clock seconds of the timed steps by phase (core/profile.h), in Phase order; they add up
  // to `seconds`.
  std::vector<std::pair<std::string, double>> phase_seconds;
  int64_t gemm_builds = 0;  // GEMM primitives built during the timed steps (new shapes)
  // Data parallel (train/data_parallel.h): ranks sharing each batch, and what rank 0 sent per
  // timed step as the communicator counts it (dist/world.h, Traffic).
  int ranks = 1;
  int64_t bytes_sent_per_step = 0;
  nlohmann::json to_json() const;
};

// tokens_per_step and tokens_per_s are of the global batch; times are rank 0's.
BenchResult run_benchmark(const std::string& name, const Config& config, int64_t steps,
                          int64_t warmup_steps);
BenchResult run_benchmark(const std::string& name, const Config& config, int64_t steps,
                          int64_t warmup_steps, dist::World& world);

}  // namespace moet
