// Parameter initialisation from a ModelPlan: the plan says what each tensor's init is; this
// only draws the numbers.
//
// Each tensor draws from its own stream, Rng(seed, tensor index), so adding a tensor to the
// layout does not shift every other tensor's values, and the result is independent of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "model/layout.h"
#include "model/plan.h"

namespace moet {

// Throws Error when the plan does not match the layout (size, negative std, tied init on a
// tensor without experts, attention logit scale not positive).
void validate_plan(const std::vector<TensorInfo>& tensors, const ModelPlan& plan);

template <typename T>
void init_parameters(const std::vector<TensorInfo>& tensors, const ModelPlan& plan, uint64_t seed,
                     T* params);

}  // namespace moet
