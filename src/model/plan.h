// ModelPlan: the numbers the model is told, never decides — per tensor its init and forward
// multiplier, per model the block-level scalars. The parameterization engine (param/) fills it
// from a preset and a base shape; tests fill it by hand.
#pragma once

#include <vector>

namespace moet {

enum class InitKind { normal, zero, one };

struct TensorPlan {
  InitKind init = InitKind::normal;
  double init_std = 0.02;  // used when init == normal
  // All experts of the tensor start from the same draw (paper 2, regime III).
  bool tied_across_experts = false;
  // Forward multiplier: the tensor acts as multiplier * W wherever the model reads it — matrices
  // in their products, embeddings in their lookups, norm gains and biases (LayerNorm shifts,
  // linear and expert biases) where they scale or shift, the balancing bias in the top-K choice
  // (score + multiplier * b). The tied readout is the exception: there the embedding acts with
  // the block's readout_mult alone. Gradients are those of the stored W (multiplier * dL/d(mW)).
  double multiplier = 1.0;
};

struct BlockPlan {
  double residual_mult = 1.0;     // h += residual_mult * branch(h), for attention and FFN
  double attn_logit_scale = 0.0;  // logits = attn_logit_scale * q.k; must be set (> 0)
  double aggregation_mult = 1.0;  // MoE output = aggregation_mult * sum_k gate_k expert_k(x)
  double readout_mult = 1.0;      // logits = readout_mult * h W_readout
};

struct ModelPlan {
  std::vector<TensorPlan> tensors;  // in model_tensors() order
  BlockPlan block;
};

}  // namespace moet
