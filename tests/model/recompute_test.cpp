// Activation recomputation (train.recompute, model/recompute.h) changes what the model keeps,
// not what it computes: for every architecture of the shared case list, both attention kernels,
// float and double, fp32 and bf16, the losses, routing and gradients of a run with attention or
// whole-block recomputation are the same bits as without, across gradient accumulation and an
// evaluation pass between steps. (The finite-difference checks and the PyTorch oracle run a few
// cases with recomputation on as well: model_cases.h.)
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "../support/model_fixtures.h"
#include "model/model.h"
#include "model_cases.h"

namespace moet {
namespace {

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Everything a caller sees of two accumulated micro-batches with an evaluation pass between.
template <typename T>
struct Observed {
  std::vector<double> losses;
  std::vector<std::vector<int32_t>> selections;
  std::vector<std::vector<int64_t>> counts;
  std::vector<T> grads;
};

template <typename T>
Observed<T> run(const testing::ModelCase& tc, Recompute recompute, Precision precision) {
  Model<T> model(tc.config, testing::random_plan(tc.config, 5), tc.batch, tc.attention, recompute);
  EXPECT_EQ(model.recompute(), recompute);
  if (tc.readout_rows > 0) model.set_readout_rows(tc.readout_rows);
  model.set_precision(precision);
  model.init(13);
  Observed<T> out;
  // A training pass for a loss scale, an evaluation pass without one.
  const auto forward = [&](uint64_t seed, std::optional<T> loss_scale) {
    std::vector<int32_t> inputs, targets;
    testing::random_tokens(tc.config, tc.batch, seed, inputs, targets);
    const ForwardResult r = loss_scale
                                ? model.forward_train(inputs.data(), targets.data(), *loss_scale)
                                : model.forward(inputs.data(), targets.data());
    out.losses.insert(out.losses.end(), {r.loss, r.aux_loss, r.z_loss});
    for (const RoutingStats& s : model.routing()) out.counts.push_back(s.counts);
  };
  model.zero_grad();
  forward(1, T(tc.loss_scale));
  model.backward();
  forward(2, std::nullopt);  // an evaluation pass: no backward
  forward(3, T(1));
  out.selections = testing::selections(model);
  model.backward();
  out.grads = model.grads();
  return out;
}

template <typename T>
void expect_same_as_without(const testing::ModelCase& tc, Precision precision) {
  const Observed<T> kept = run<T>(tc, Recompute::none, precision);
  for (const Recompute recompute : {Recompute::attention, Recompute::block}) {
    const Observed<T> again = run<T>(tc, recompute, precision);
    const std::string what = std::string(recompute_name(recompute)) + " " +
                             precision_name(precision) + " " + typeid(T).name();
    EXPECT_TRUE(same_bits(again.losses, kept.losses)) << what;
    EXPECT_EQ(again.selections, kept.selections) << what;
    EXPECT_EQ(again.counts, kept.counts) << what;
    EXPECT_TRUE(same_bits(again.grads, kept.grads)) << what;
  }
}

class RecomputeTest : public ::testing::TestWithParam<testing::ModelCase> {};

TEST_P(RecomputeTest, SameBitsAsKeepingEverything) {
  expect_same_as_without<double>(GetParam(), Precision::fp32);
  expect_same_as_without<float>(GetParam(), Precision::fp32);
  expect_same_as_without<float>(GetParam(), Precision::bf16);
}

INSTANTIATE_TEST_SUITE_P(Model, RecomputeTest, ::testing::ValuesIn(testing::model_cases()),
                         testing::model_case_name);

TEST(Recompute, DropsTheBlockBuffersItRecomputes) {
  const ModelConfig c = testing::small_config();
  const ModelPlan plan = testing::random_plan(c, 1);
  const Model<float> kept(c, plan, 2),
      attention(c, plan, 2, AttentionKernel::flash, Recompute::attention),
      block(c, plan, 2, AttentionKernel::flash, Recompute::block);
  for (int64_t l = 0; l < c.L; ++l) {
    EXPECT_FALSE(kept.block_acts()[size_t(l)].attn.att.empty());
    EXPECT_TRUE(attention.block_acts()[size_t(l)].attn.att.empty());
    EXPECT_FALSE(attention.block_acts()[size_t(l)].ffn.x_perm.empty());
    EXPECT_TRUE(block.block_acts()[size_t(l)].attn.att.empty());
    EXPECT_TRUE(block.block_acts()[size_t(l)].resid_mid.empty());
    EXPECT_TRUE(block.block_acts()[size_t(l)].ffn.x_perm.empty());
    EXPECT_FALSE(block.block_acts()[size_t(l)].ffn.routing.selected.empty());  // kept
  }
}

}  // namespace
}  // namespace moet
