// The learning-rate schedule as a factor of each tensor's peak LR: linear warmup, then
// constant (paper 1's transfer sweeps), cosine to a floor (paper 2), or WSD (warmup, stable,
// linear decay to the floor over the last optim.decay of the run).
#pragma once

#include <cstdint>

#include "optim/config.h"

namespace moet {

// Warmup length in steps: optim.warmup is a fraction of the run when < 1, else a step count.
int64_t warmup_steps(const OptimConfig& config, int64_t total_steps);

// Factor in [0, 1] for step (0-based) of a run of total_steps.
double lr_factor(const OptimConfig& config, int64_t step, int64_t total_steps);

}  // namespace moet
