// The plan's contract (model/plan.h): a tensor acts as multiplier * W wherever the model reads
// it. So a model with multiplier m and stored values W must equal a model with multiplier 1 and
// stored values m W: the same loss and routing, and each stored tensor's gradient m times the
// folded one's. Checked for every tensor of architectures that have every role — biases
// (linear, expert, shared, dense, LayerNorm shifts), norm gains and balancing biases included —
// in double and float, and in bf16 for the vectors (matrices rounded to bf16 after folding would
// differ by the rounding). The tied embedding is the one exception the contract names (its
// multiplier acts on the input side only), so it is folded only when untied.
//
// A model that ignored a multiplier somewhere would still pass the finite-difference checks
// (forward and backward would agree on ignoring it); here it would not, and each role's
// multipliers are also shown to change the loss (or the routing) when dropped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "../support/model_fixtures.h"
#include "../support/one_thread.h"
#include "../support/worst.h"
#include "model/model.h"

namespace moet {
namespace {

using testing::worse;

struct Case {
  std::string name;
  ModelConfig config;
};

std::vector<Case> cases() {
  ModelConfig all = testing::small_config();  // LayerNorm, learned positions, GELU, sigmoid
  all.tied_embed = false;
  all.linear_bias = true;
  all.moe_every = 2;  // block 0 dense, block 1 MoE
  all.dense_Nf = 20;
  all.shared_experts = 1;
  ModelConfig swiglu = testing::small_config();
  swiglu.norm = NormKind::rmsnorm;
  swiglu.act = Activation::swiglu;  // the bias is added by the linear layer, not fused into GELU
  swiglu.router_score = RouterScore::softmax;
  swiglu.linear_bias = true;
  swiglu.shared_experts = 1;
  swiglu.gate_renorm = true;  // tied readout
  return {{"layernorm_gelu_untied", all}, {"rmsnorm_swiglu_tied", swiglu}};
}

// Multipliers off one everywhere; the balancing bias's large enough to decide top-K choices.
ModelPlan test_plan(const ModelConfig& c) {
  ModelPlan plan = testing::random_plan(c, 31);
  const std::vector<TensorInfo> tensors = model_tensors(c);
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].role == Role::route_bias) plan.tensors[i].multiplier = 3.0;
  return plan;
}

bool is_vector(const TensorInfo& t) { return t.shape.size() - (t.experts > 0 ? 1 : 0) == 1; }

// Tensors whose multiplier can be folded into the stored values (see the header).
bool foldable(const TensorInfo& t, const ModelConfig& c, Precision precision) {
  if (t.role == Role::embed && c.tied_embed) return false;
  return precision == Precision::fp32 || is_vector(t);
}

template <typename T>
struct Run {
  ForwardResult result;
  std::vector<std::vector<int32_t>> routing;
  std::vector<T> grads;
};

template <typename T>
Run<T> run(const ModelConfig& c, const ModelPlan& plan, const std::vector<T>& params,
           Precision precision) {
  Model<T> model(c, plan, 2);
  if (precision == Precision::bf16) model.set_precision(precision);
  std::copy(params.begin(), params.end(), model.params().begin());
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(c, 2, 5, inputs, targets);
  Run<T> out;
  model.zero_grad();
  out.result = model.forward_train(inputs.data(), targets.data());
  out.routing = testing::selections(model);
  model.backward();
  out.grads = model.grads();
  return out;
}

struct Tolerance {
  double loss;  // relative
  double grad;  // relative to the tensor's largest gradient
};

template <typename T>
void check_folding(const Case& tc, Precision precision, const Tolerance& tol) {
  const testing::OneThread one_thread;  // some twenty tiny models
  const ModelConfig& c = tc.config;
  const std::string what =
      tc.name + " " + precision_name(precision) + (sizeof(T) == 8 ? " double" : " float");
  const ModelPlan plan = test_plan(c);
  Model<T> source(c, plan, 2);
  source.init(13);
  const std::vector<TensorInfo>& tensors = source.tensors();
  const std::vector<T>& params = source.params();

  ModelPlan folded_plan = plan;
  std::vector<T> folded = params;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (!foldable(t, c, precision)) continue;
    folded_plan.tensors[i].multiplier = 1.0;
    const T m = T(plan.tensors[i].multiplier);
    for (int64_t j = t.offset; j < t.offset + t.numel; ++j)
      folded[size_t(j)] = m * params[size_t(j)];
  }
  const Run<T> a = run(c, plan, params, precision), b = run(c, folded_plan, folded, precision);
  const double loss = a.result.total();
  EXPECT_NEAR(loss, b.result.total(), tol.loss * loss) << what;
  EXPECT_EQ(a.routing, b.routing) << what;

  // A gradient that vanishes by construction (the key bias under plain attention: softmax
  // ignores a shift shared by all keys) holds rounding noise: judged on the model's scale, 1% of
  // the largest gradient (the floor is then ~2 float ulps of it; at 0.1% the AVX2 build's noise,
  // 1.67e-8 against 1.65e-8, failed on one case).
  double global = 0;
  for (const T g : a.grads) global = std::max(global, std::abs(double(g)));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (!t.trainable) continue;
    const double m = foldable(t, c, precision) ? T(plan.tensors[i].multiplier) : 1.0;
    double scale = 0, worst = 0;
    for (int64_t j = t.offset; j < t.offset + t.numel; ++j) {
      scale = std::max(scale, std::abs(double(a.grads[size_t(j)])));
      worst = worse(worst, std::abs(double(a.grads[size_t(j)]) - m * b.grads[size_t(j)]));
    }
    EXPECT_LE(worst, tol.grad * std::max(scale, 1e-2 * global))
        << what << ": " << t.name << " (largest |grad| " << scale << ")";
  }

  // Not vacuous: dropping one role's multipliers (keeping the values) changes the loss by far
  // more than the tolerance, or changes the routing (the balancing bias only steers choices).
  std::set<Role> roles;
  for (const TensorInfo& t : tensors)
    if (foldable(t, c, precision)) roles.insert(t.role);
  for (const Role role : roles) {
    ModelPlan dropped = plan;
    for (size_t i = 0; i < tensors.size(); ++i)
      if (tensors[i].role == role) dropped.tensors[i].multiplier = 1.0;
    const Run<T> d = run(c, dropped, params, precision);
    const bool routing_moved = d.routing != a.routing;
    EXPECT_TRUE(routing_moved || std::abs(d.result.total() - loss) > 10 * tol.loss * loss)
        << what << ": dropping the multipliers of role " << role_name(role)
        << " changes nothing the test can see (loss " << loss << " -> " << d.result.total() << ")";
  }
}

class Multipliers : public ::testing::TestWithParam<Case> {};

// Double: the two models differ by the rounding of m W only. Float: the same in float (measured
// 4e-8 on the loss). bf16: biases and gains stay fp32, only their neighbours' GEMMs round.
TEST_P(Multipliers, ActLikeValuesScaledByThemInDouble) {
  check_folding<double>(GetParam(), Precision::fp32, {1e-12, 1e-12});
}

TEST_P(Multipliers, ActLikeValuesScaledByThemInFloat) {
  check_folding<float>(GetParam(), Precision::fp32, {1e-6, 2e-5});
}

TEST_P(Multipliers, VectorsActLikeValuesScaledByThemInBf16) {
  check_folding<float>(GetParam(), Precision::bf16, {1e-5, 2e-4});
}

INSTANTIATE_TEST_SUITE_P(Model, Multipliers, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace moet
