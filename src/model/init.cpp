#include "model/init.h"

#include "core/error.h"
#include "core/rng.h"

namespace moet {

void validate_plan(const std::vector<TensorInfo>& tensors, const ModelPlan& plan) {
  if (plan.tensors.size() != tensors.size())
    fail("parameterization: {} tensor entries for a model with {} tensors", plan.tensors.size(),
         tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorPlan& p = plan.tensors[i];
    if (p.init == InitKind::normal && !(p.init_std >= 0))
      fail("parameterization: {}: init std must be >= 0 (got {})", tensors[i].name, p.init_std);
    if (p.tied_across_experts && tensors[i].experts == 0)
      fail("parameterization: {}: tied-across-experts init on a tensor without experts",
           tensors[i].name);
  }
  if (!(plan.block.attn_logit_scale > 0))
    fail("parameterization: attention logit scale must be positive (got {})",
         plan.block.attn_logit_scale);
}

template <typename T>
void init_parameters(const std::vector<TensorInfo>& tensors, const ModelPlan& plan, uint64_t seed,
                     T* params) {
  validate_plan(tensors, plan);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    const TensorPlan& p = plan.tensors[i];
    T* w = params + t.offset;
    switch (p.init) {
      case InitKind::zero: std::fill(w, w + t.numel, T(0)); break;
      case InitKind::one: std::fill(w, w + t.numel, T(1)); break;
      case InitKind::normal: {
        Rng rng(seed, i);
        // Tied: draw one expert's slice, then copy it to the others.
        const int64_t drawn = p.tied_across_experts ? t.numel / t.experts : t.numel;
        // A slice of the experts (expert parallelism) takes the whole tensor's draws for them.
        if (!p.tied_across_experts && t.first_expert > 0)
          for (int64_t j = 0; j < t.first_expert * (t.numel / t.experts); ++j) rng.normal();
        for (int64_t j = 0; j < drawn; ++j) w[j] = T(p.init_std * rng.normal());
        for (int64_t j = drawn; j < t.numel; ++j) w[j] = w[j % drawn];
        break;
      }
    }
  }
}

template void init_parameters<float>(const std::vector<TensorInfo>&, const ModelPlan&, uint64_t,
                                     float*);
template void init_parameters<double>(const std::vector<TensorInfo>&, const ModelPlan&, uint64_t,
                                      double*);

}  // namespace moet
