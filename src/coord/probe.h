// CoordProbe: what a coordinate check measures on one model while it trains (docs/coord.md).
//
// A fixed probe batch runs through the model at step 0, where the probe keeps the weights W_0
// and every layer's input x_0; each later measure() runs the same batch through the current
// weights W_t and compares. Per block and role it reports RMS values (the root mean square over
// every entry of the probe batch's [rows, features] tensor):
//
//   act.*    activations: residual stream, attention and MoE/FFN branch outputs, router logits,
//            expert pre-activations and outputs, embedding output, logits
//   delta.*  their change since step 0: residual stream, logits
//   eff.*    effective update   mult (W_t - W_0) x_t      (paper 2's refined coordinate check)
//   prop.*   propagating update mult W_0 (x_t - x_0)
//            for attn_q, attn_k, attn_v, attn_o, router, expert_up, expert_down, dense_up,
//            dense_down and the readout
//   moe.*    the MoE output split into init / propagating / effective / cross (moe_split.h)
//   load.max_over_mean   the busiest expert's load over the mean load, on the probe batch
//   loss     the probe batch's cross-entropy
//
// The model is only read through its public API (block_acts, residual, params, plan); products
// with W_0 are recomputed here, since the model keeps one set of weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace moet {

struct CoordValue {
  std::string metric;  // e.g. "act.resid", "eff.attn_q", "moe.init"
  int64_t layer = -1;  // block index; -1 for whole-model metrics (embedding, logits, loss)
  double value = 0;
};

class CoordProbe {
 public:
  // Runs the probe batch ([B, seq] inputs and targets) through the model as it is now and
  // keeps what later measurements compare against: call it before the first update.
  CoordProbe(Model<float>& model, std::vector<int32_t> inputs, std::vector<int32_t> targets);

  // Runs the probe batch through the current weights and returns every metric, in a fixed
  // order. Before any update, every eff/prop/delta value is 0 and moe.init is the MoE output.
  std::vector<CoordValue> measure(Model<float>& model) const;

 private:
  std::vector<int32_t> inputs_, targets_;
  std::vector<float> params0_;
  // The step-0 forward's layer inputs, per block, and the residual streams and logits.
  struct BlockInputs {
    std::vector<float> attn_in, att, ffn_in, dense_act;
  };
  std::vector<BlockInputs> inputs0_;
  std::vector<std::vector<float>> resid0_;  // L + 1 streams
  std::vector<float> final0_, logits0_;
};

// The RMS of n values (0 for n = 0), accumulated in double.
double rms(const float* values, int64_t n);

}  // namespace moet
