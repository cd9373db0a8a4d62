// A flat vector of an expert-parallel rank's layout (model_layout with an ExpertShard: routed
// experts [first_expert, first_expert + experts) of all_experts) and the same vector of the whole
// model, as a checkpoint holds it. Slice e of a routed-expert tensor is its rows
// [e M/E, (e+1) M/E) of the leading expert axis, so the whole tensor is the E slices in rank order.
#pragma once

#include <vector>

#include "dist/world.h"
#include "model/layout.h"

namespace moet {

// True for the tensors a rank holds part of: the routed experts under expert parallelism.
inline bool is_expert_slice(const TensorInfo& t) { return t.all_experts != t.experts; }

// This rank's values (local layout) from the whole model's (whole layout).
std::vector<float> local_from_whole(const std::vector<TensorInfo>& local,
                                    const std::vector<TensorInfo>& whole,
                                    const std::vector<float>& values);
// The whole model's values from every rank's local values: each expert slice is all-gathered
// over `experts` (the E ranks splitting the experts; every one of them must call this).
std::vector<float> whole_from_local(const std::vector<TensorInfo>& local,
                                    const std::vector<TensorInfo>& whole,
                                    const std::vector<float>& values, dist::World& experts);

}  // namespace moet
