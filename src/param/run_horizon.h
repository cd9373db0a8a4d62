// The run quantities a rule may scale with besides the shape: the token budget (symbol D) and
// the tokens per optimizer step (symbol B), of the target run and of the base run the global
// hyperparameters were tuned on (param.base.tokens, param.base.batch).
//
// Both count tokens, so that D = B x (steps ratio) exactly as Complete-muE's rho_D = B'T'/(BT)
// (T in iterations) and HyperP's batch B (tokens) mean them; with a fixed model.seq the batch
// ratio is train.batch's ratio.
#pragma once

#include <cstdint>

#include "core/config.h"

namespace moet::param {

struct RunHorizon {
  int64_t tokens = 0;  // train.steps x tokens per step
  int64_t batch = 0;   // tokens per optimizer step: train.batch x train.accum x model.seq
  bool operator==(const RunHorizon&) const = default;
};

// The run the config trains. The count is TrainConfig::tokens_per_step's (train/train_config.h,
// a layer above this one; tests/sweep/ladder_axes_test.cpp checks the two agree). Throws Error
// naming the train.* key that is not positive, or an overflow.
RunHorizon run_horizon_of(const Config& config);

}  // namespace moet::param
