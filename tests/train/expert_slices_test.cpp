// Whole-model vectors (checkpoints) and an expert-parallel rank's vectors (train/expert_slices.h).
// The gather over several ranks is tested end to end under mpirun (data_parallel_test.cpp).
#include "train/expert_slices.h"

#include <gtest/gtest.h>

#include <numeric>

#include "../support/model_fixtures.h"

namespace moet {
namespace {

// Rank 1 of E = 3 over M = 6 holds experts 2 and 3: of every routed-expert tensor the rows
// [2, 4) of the leading axis; every other tensor (shared experts and biases included) whole.
TEST(ExpertSlices, ARankKeepsItsExpertsRowsOfTheWholeTensors) {
  ModelConfig c = testing::small_config();
  c.M = 6;
  c.linear_bias = true;
  c.shared_experts = 1;
  const std::vector<TensorInfo> whole = model_tensors(c);
  const std::vector<TensorInfo> local = model_layout(c, {1, 3}).tensors;
  std::vector<float> values(size_t(total_numel(whole)));
  std::iota(values.begin(), values.end(), 0.0f);  // exact: fewer than 2^24 elements
  const std::vector<float> mine = local_from_whole(local, whole, values);
  ASSERT_EQ(int64_t(mine.size()), total_numel(local));
  int routed = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    const bool sliced = whole[i].name.find(".moe.expert_") != std::string::npos;
    routed += sliced;
    const int64_t per_expert = sliced ? whole[i].numel / 6 : 0;
    ASSERT_EQ(local[i].numel, sliced ? 2 * per_expert : whole[i].numel) << whole[i].name;
    for (int64_t j = 0; j < local[i].numel; ++j)
      ASSERT_EQ(mine[size_t(local[i].offset + j)],
                values[size_t(whole[i].offset + 2 * per_expert + j)])
          << whole[i].name << " element " << j;
  }
  EXPECT_EQ(routed, 2 * 2 * 2);  // up and down, weight and bias, in 2 blocks
}

// One rank holding every expert: both directions are the identity.
TEST(ExpertSlices, WithEveryExpertBothDirectionsAreTheIdentity) {
  const ModelConfig c = testing::small_config();
  const std::vector<TensorInfo> tensors = model_tensors(c);
  std::vector<float> values(size_t(total_numel(tensors)));
  std::iota(values.begin(), values.end(), 1.0f);
  dist::SingleWorld alone;
  EXPECT_EQ(local_from_whole(tensors, tensors, values), values);
  EXPECT_EQ(whole_from_local(tensors, tensors, values, alone), values);
}

}  // namespace
}  // namespace moet
