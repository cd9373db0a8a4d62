// Small models and hand-made plans for tests (the parameterization engine is tested on its own).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "model/layout.h"
#include "model/model.h"
#include "model/plan.h"

namespace moet::testing {

inline ModelConfig small_config() {
  ModelConfig c;
  c.vocab = 11;
  c.seq = 5;
  c.N = 16;
  c.d_head = 8;
  c.L = 2;
  c.M = 4;
  c.K = 2;
  c.Ne = 12;
  return c;
}

// Every tensor drawn at about fan-in scale with its own non-trivial multiplier — norm gains,
// biases and balancing biases included — so no gradient path is hidden by a factor of one or
// zero. The vectors' multipliers come from a stream of their own, so the matrices' draws are
// those of a plan without them.
inline ModelPlan random_plan(const ModelConfig& c, uint64_t seed) {
  Rng rng(seed, 99), vector_rng(seed, 98);
  ModelPlan plan;
  for (const TensorInfo& t : model_tensors(c)) {
    TensorPlan p;
    switch (t.role) {
      case Role::norm:
        p.init = InitKind::one;
        p.multiplier = 0.7 + 0.6 * vector_rng.uniform();
        break;
      case Role::bias:
      case Role::route_bias:
        p.init_std = 0.1;
        p.multiplier = 0.7 + 0.6 * vector_rng.uniform();
        break;
      case Role::embed:
      case Role::pos_embed:
        p.init_std = 0.8;
        p.multiplier = 0.7 + 0.6 * rng.uniform();
        break;
      default:
        p.init_std = (0.8 + 0.4 * rng.uniform()) / std::sqrt(double(t.fan_in));
        p.multiplier = 0.7 + 0.6 * rng.uniform();
    }
    plan.tensors.push_back(p);
  }
  plan.block.residual_mult = 0.8;
  plan.block.attn_logit_scale = 1.5 / double(c.d_head);
  plan.block.aggregation_mult = 1.0 / double(c.K);
  plan.block.readout_mult = 0.9;
  return plan;
}

// Multipliers 1, aggregation 1, residual 1: the plain network.
inline ModelPlan unit_plan(const ModelConfig& c) {
  ModelPlan plan = random_plan(c, 1);
  for (auto& p : plan.tensors) p.multiplier = 1.0;
  plan.block = BlockPlan{1.0, 1.0 / std::sqrt(double(c.d_head)), 1.0, 1.0};
  return plan;
}

// init, then norm gains away from exactly one so a missing gain factor in a backward shows.
inline void init_for_gradcheck(Model<double>& model, uint64_t seed) {
  model.init(seed);
  Rng rng(seed, 7);
  for (const TensorInfo& t : model.tensors())
    if (t.role == Role::norm)
      for (int64_t j = 0; j < t.numel; ++j) model.params()[t.offset + j] = 1.0 + 0.3 * rng.normal();
}

inline void random_tokens(const ModelConfig& c, int64_t batch, uint64_t seed,
                          std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  Rng rng(seed, 3);
  inputs.resize(size_t(batch * c.seq));
  targets.resize(size_t(batch * c.seq));
  for (auto& x : inputs) x = int32_t(rng.below(uint64_t(c.vocab)));
  for (auto& x : targets) x = int32_t(rng.below(uint64_t(c.vocab)));
}

// Smallest gap, over tokens and MoE layers, between the K-th chosen and the best unchosen
// score + multiplier x bias of the last forward pass (infinite when K = M).
template <typename T>
double min_routing_margin(const Model<T>& model) {
  const ModelConfig& c = model.config();
  double margin = INFINITY;
  int block = 0;
  for (int64_t l = 0; l < c.L; ++l) {
    if (!c.is_moe_block(l)) continue;
    const auto& r = model.block_acts()[size_t(l)].ffn.routing;
    const T* bias = nullptr;
    double mult = 1;
    for (size_t j = 0; j < model.tensors().size(); ++j) {
      const TensorInfo& t = model.tensors()[j];
      if (t.role != Role::route_bias || t.layer != l) continue;
      bias = model.params().data() + t.offset;
      mult = model.plan().tensors[j].multiplier;
    }
    for (int64_t i = 0; i < model.rows(); ++i) {
      std::vector<double> v(size_t(c.M));
      for (int64_t e = 0; e < c.M; ++e) v[e] = r.scores[i * c.M + e] + mult * bias[e];
      std::sort(v.rbegin(), v.rend());
      if (c.K < c.M) margin = std::min(margin, v[c.K - 1] - v[c.K]);
    }
    ++block;
  }
  return margin;
}

template <typename T>
std::vector<std::vector<int32_t>> selections(const Model<T>& model) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& a : model.block_acts()) out.push_back(a.ffn.routing.selected);
  return out;
}

}  // namespace moet::testing
