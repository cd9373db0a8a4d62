// Whole-model finite-difference gradient checks in double precision: every parameter role,
// router and balancing-loss paths, both score functions, shared experts, tied and untied
// readouts, at several shapes, through the flash attention kernel (one shape with a sequence
// spanning several of its blocks), and the architecture with every option through the strips
// kernel too, and with activation recomputation (block with flash, attention with the strips).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "../support/fd.h"
#include "../support/model_fixtures.h"
#include "core/error.h"
#include "kernels/flash_attention.h"
#include "model/model.h"
#include "model_cases.h"

namespace moet {
namespace {

using testing::expect_close;

class GradCheck : public ::testing::TestWithParam<testing::ModelCase> {};

TEST_P(GradCheck, EveryTensorMatchesFiniteDifferences) {
  const testing::ModelCase& tc = GetParam();
  Model<double> model(tc.config, testing::random_plan(tc.config, 7), tc.batch, tc.attention,
                      tc.recompute);
  ASSERT_EQ(model.attention_kernel(), tc.attention);
  if (tc.readout_rows > 0) model.set_readout_rows(tc.readout_rows);
  testing::init_for_gradcheck(model, 11);
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(tc.config, tc.batch, 3, inputs, targets);

  model.zero_grad();
  // Through the case's loss scale (the backward of a scaled loss, divided back out).
  const ForwardResult base = model.forward_train(inputs.data(), targets.data(), tc.loss_scale);
  ASSERT_TRUE(std::isfinite(base.total()));
  if (tc.config.aux_weight > 0) {
    EXPECT_GT(base.aux_loss, 0);
  }
  if (tc.config.z_weight > 0) {
    EXPECT_GT(base.z_loss, 0);
  }
  // Ties are avoided by construction: the K-th and (K+1)-th choices are far apart compared with
  // what a parameter step of eps can move them, so the routing is fixed during the check.
  ASSERT_GT(testing::min_routing_margin(model), 1e-4);
  const std::vector<std::vector<int32_t>> routing = testing::selections(model);

  model.backward();
  std::vector<double> analytic = model.grads();
  for (double& g : analytic) g /= tc.loss_scale;

  const auto loss = [&] {
    const double l = model.forward(inputs.data(), targets.data()).total();
    EXPECT_EQ(testing::selections(model), routing) << "routing changed during the check";
    return l;
  };
  std::set<Role> roles_checked;
  for (const TensorInfo& t : model.tensors()) {
    if (!t.trainable) {
      for (int64_t j = 0; j < t.numel; ++j) EXPECT_EQ(analytic[t.offset + j], 0.0) << t.name;
      continue;
    }
    // Up to 24 entries per tensor, spread over the whole tensor (every expert slice).
    const int64_t stride = std::max<int64_t>(1, t.numel / 24);
    for (int64_t j = 0; j < t.numel; j += stride) {
      double& x = model.params()[t.offset + j];
      const double numeric = testing::central_difference(loss, x, 1e-6);
      // The kernels' relative 1e-6; the absolute 1e-8 is ten times the difference's rounding
      // floor (a loss near 5 carries ~1e-15, over 2 eps: measured up to 1.3e-9).
      expect_close(analytic[t.offset + j], numeric, 1e-6, 1e-8,
                   t.name + "[" + std::to_string(j) + "]");
    }
    roles_checked.insert(t.role);
  }
  // Every trainable role of this architecture was exercised.
  std::set<Role> roles_present;
  for (const TensorInfo& t : model.tensors())
    if (t.trainable) roles_present.insert(t.role);
  EXPECT_EQ(roles_checked, roles_present);
}

INSTANTIATE_TEST_SUITE_P(Model, GradCheck, ::testing::ValuesIn(testing::model_cases()),
                         testing::model_case_name);

TEST(ModelInvariants, SelectedCountsSumToKTimesTokens) {
  ModelConfig c = testing::small_config();
  c.M = 8;
  c.K = 3;
  Model<float> model(c, testing::random_plan(c, 1), 4);
  model.init(5);
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(c, 4, 9, inputs, targets);
  model.forward(inputs.data(), targets.data());
  ASSERT_EQ(model.routing().size(), size_t(c.L));
  for (const RoutingStats& s : model.routing()) {
    int64_t total = 0;
    for (const int64_t n : s.counts) total += n;
    EXPECT_EQ(total, c.K * model.rows());
    double load_sum = 0;
    for (const double l : s.load()) load_sum += l;
    EXPECT_NEAR(load_sum, double(c.K), 1e-12);  // loads sum to K: K/M each at perfect balance
    EXPECT_GE(s.max_over_mean_load(), 1.0);
  }
}

TEST(ModelInvariants, SingleExpertWithUnitGateEqualsDenseModel) {
  // M = K = 1 with softmax scores gives gate 1; with aggregation 1 the MoE layer is the dense MLP.
  ModelConfig moe = testing::small_config();
  moe.M = 1;
  moe.K = 1;
  moe.Ne = 10;
  moe.router_score = RouterScore::softmax;
  ModelConfig dense = moe;
  dense.moe_every = 0;
  dense.dense_Nf = 10;
  ModelPlan moe_plan = testing::unit_plan(moe);
  ModelPlan dense_plan = testing::unit_plan(dense);
  Model<double> a(moe, moe_plan, 2), b(dense, dense_plan, 2);
  a.init(3);
  // Copy every tensor by name; the MoE expert tensors map to the dense FFN tensors.
  const std::map<std::string, std::string> rename = {{".moe.expert_up", ".ffn.up"},
                                                     {".moe.expert_down", ".ffn.down"}};
  for (const TensorInfo& t : b.tensors()) {
    std::string source = t.name;
    for (const auto& [from, to] : rename) {
      const size_t at = source.find(to);
      if (at != std::string::npos) source.replace(at, to.size(), from);
    }
    const int i = find_tensor(a.tensors(), source);
    ASSERT_GE(i, 0) << source;
    const TensorInfo& s = a.tensors()[size_t(i)];
    ASSERT_EQ(s.numel, t.numel) << t.name;
    std::copy_n(a.params().begin() + s.offset, s.numel, b.params().begin() + t.offset);
  }
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(moe, 2, 4, inputs, targets);
  a.zero_grad();
  b.zero_grad();
  const double la = a.forward_train(inputs.data(), targets.data()).loss;
  const double lb = b.forward_train(inputs.data(), targets.data()).loss;
  EXPECT_NEAR(la, lb, 1e-12);
  a.backward();
  b.backward();
  const int ia = find_tensor(a.tensors(), "blocks.0.moe.expert_up");
  const int ib = find_tensor(b.tensors(), "blocks.0.ffn.up");
  const TensorInfo &ta = a.tensors()[ia], &tb = b.tensors()[ib];
  for (int64_t j = 0; j < ta.numel; ++j)
    EXPECT_NEAR(a.grads()[ta.offset + j], b.grads()[tb.offset + j], 1e-12);
}

TEST(ModelInvariants, FloatMatchesDouble) {
  ModelConfig c = testing::small_config();
  const ModelPlan plan = testing::random_plan(c, 2);
  Model<float> f(c, plan, 2);
  Model<double> d(c, plan, 2);
  f.init(9);
  d.init(9);
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(c, 2, 5, inputs, targets);
  const double lf = f.forward(inputs.data(), targets.data()).loss;
  const double ld = d.forward(inputs.data(), targets.data()).loss;
  EXPECT_NEAR(lf, ld, 1e-5 * std::abs(ld));
}

TEST(ModelInvariants, RejectsTokensOutsideVocabulary) {
  ModelConfig c = testing::small_config();
  Model<float> model(c, testing::random_plan(c, 1), 1);
  std::vector<int32_t> inputs(size_t(c.seq), 0), targets(size_t(c.seq), 0);
  inputs[2] = int32_t(c.vocab);
  EXPECT_THROW(model.forward(inputs.data(), targets.data()), Error);
}

}  // namespace
}  // namespace moet
