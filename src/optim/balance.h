// Paper 1's auxiliary-loss-free balancing (its Eq. 2): after each optimizer step, every MoE
// layer's expert bias moves against its load, b_i -= eta_bias (load_i - K/M), where load_i is
// the fraction of the step's tokens (the whole global batch) that chose expert i. eta_bias is
// Θ(1): it is not scaled with any dimension.
#pragma once

#include <cstdint>
#include <vector>

namespace moet {

// counts: tokens that chose each of the M experts over `tokens` tokens of the step.
void update_route_bias(float* bias, const std::vector<int64_t>& counts, int64_t tokens, int64_t K,
                       double eta_bias);

}  // namespace moet
