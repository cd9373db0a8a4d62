// FLOPs of one training step, the numerator of every GFLOP/s figure moet reports.
//
// Counted: matrix multiplies only, 2 FLOPs per multiply-add; backward = 2 x forward (gradients
// of inputs and of weights), so training = 3 x forward. Per token and block:
//   attention projections  4 N^2
//   attention (causal)      N T   (QK^T and PV each N T/2: a token sees (T+1)/2 keys on average)
//   router                  N M
//   routed experts          K (N up_cols + Ne N)       up_cols = Ne, or 2 Ne for SwiGLU
//   shared experts          S (N up_cols' + Ne' N)
//   dense FFN blocks        N up_cols'' + Nf N
// plus the readout N V per token. Norms, activations, softmax, routing and the optimizer are
// not counted: they are memory-bound and would flatter the figure. The attention term is the
// causal work actually needed; PaLM-style counts (full T^2) would read about N T higher.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace moet {

// Multiply-adds of one token's forward pass.
double forward_macs_per_token(const ModelConfig& config);
// FLOPs of forward + backward for `tokens` tokens.
double training_flops(const ModelConfig& config, int64_t tokens);

}  // namespace moet
