// The coordinate check's probes: the MoE output split adds up to the routed output, the init
// term is the step-0 output, and the effective / propagating updates are the products their
// definitions name (checked against plain loops).
#include <gtest/gtest.h>

#include <cmath>

#include "../support/model_fixtures.h"
#include "coord/moe_split.h"
#include "coord/probe.h"
#include "core/rng.h"
#include "kernels/routing.h"

namespace moet {
namespace {

using testing::random_plan;
using testing::random_tokens;
using testing::small_config;

constexpr int64_t kBatch = 3;

// Moves every trained tensor by relative noise, as a few optimizer steps would (the balancing
// bias too, so the routing of "step t" differs from step 0's).
void perturb(Model<float>& model, uint64_t seed, double size) {
  Rng rng(seed, 11);
  for (const TensorInfo& t : model.tensors())
    for (int64_t j = 0; j < t.numel; ++j) {
      float& v = model.params()[size_t(t.offset + j)];
      v += float(size * (0.05 + std::fabs(v)) * rng.normal());
    }
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (const float v : a) m = std::max(m, std::fabs(double(v)));
  return m;
}

// The routed MoE output of block l in the last forward: sum_k combine_weight * expert output.
std::vector<float> routed_output(const Model<float>& model, int64_t l) {
  const auto& f = model.block_acts()[size_t(l)].ffn;
  const ModelConfig& c = model.config();
  std::vector<float> y(size_t(model.rows() * c.N));
  combine_assignments<float>(y.data(), f.exp_out.data(), f.routing.combine_weight.data(),
                             f.routing.position.data(), model.rows(), c.K, c.N, Accumulate::no);
  return y;
}

struct SplitCase {
  const char* name;
  Activation act;
  bool linear_bias;
};

class MoeSplitTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(MoeSplitTest, FourTermsAddUpToTheRoutedOutputAndStartAsTheOutput) {
  ModelConfig c = small_config();
  c.act = GetParam().act;
  c.linear_bias = GetParam().linear_bias;
  Model<float> model(c, random_plan(c, 3), kBatch);
  model.init(5);
  std::vector<int32_t> inputs, targets;
  random_tokens(c, kBatch, 7, inputs, targets);
  model.forward(inputs.data(), targets.data());
  const std::vector<float> params0 = model.params();
  std::vector<std::vector<float>> x0, y0;
  std::vector<std::vector<int32_t>> selected0;
  for (int64_t l = 0; l < c.L; ++l) {
    x0.push_back(model.block_acts()[size_t(l)].ffn.ln.out);
    y0.push_back(routed_output(model, l));
    selected0.push_back(model.block_acts()[size_t(l)].ffn.routing.selected);
  }

  // Step 0: the init term is the output; nothing has moved.
  for (int64_t l = 0; l < c.L; ++l) {
    const MoeSplit s = moe_split(model, l, params0.data(), x0[size_t(l)].data());
    EXPECT_LT(max_abs_diff(s.init, y0[size_t(l)]), 1e-6 * (1 + max_abs(y0[size_t(l)])));
    EXPECT_EQ(max_abs(s.propagating), 0.0);
    EXPECT_EQ(max_abs(s.effective), 0.0);
    EXPECT_EQ(max_abs(s.cross), 0.0);
  }

  perturb(model, 9, 0.3);
  model.forward(inputs.data(), targets.data());
  int changed_routes = 0;
  for (int64_t l = 0; l < c.L; ++l) {
    const MoeSplit s = moe_split(model, l, params0.data(), x0[size_t(l)].data());
    const std::vector<float> y = routed_output(model, l);
    std::vector<float> sum(y.size());
    for (size_t i = 0; i < y.size(); ++i)
      sum[i] = s.init[i] + s.propagating[i] + s.effective[i] + s.cross[i];
    const double scale = 1 + max_abs(y);
    EXPECT_LT(max_abs_diff(sum, y), 2e-6 * scale) << "block " << l;
    // Without shared experts the routed output is the whole branch the residual stream got.
    std::vector<float> branch(y.size());
    const double rm = model.plan().block.residual_mult;
    const float* after = model.residual(l + 1);
    const float* before = model.block_acts()[size_t(l)].resid_mid.data();
    for (size_t i = 0; i < y.size(); ++i) branch[i] = float((after[i] - before[i]) / rm);
    EXPECT_LT(max_abs_diff(branch, y), 1e-5 * scale) << "block " << l;
    // Every term moved away from zero, so none of them is trivially right.
    EXPECT_GT(max_abs(s.propagating), 1e-3);
    EXPECT_GT(max_abs(s.effective), 1e-3);
    EXPECT_GT(max_abs(s.cross), 1e-4);
    changed_routes += model.block_acts()[size_t(l)].ffn.routing.selected != selected0[size_t(l)];
  }
  EXPECT_GT(changed_routes, 0);  // step t's routing differs, and the split still adds up
}

INSTANTIATE_TEST_SUITE_P(Architectures, MoeSplitTest,
                         ::testing::Values(SplitCase{"gelu", Activation::gelu, false},
                                           SplitCase{"swiglu_bias", Activation::swiglu, true}),
                         [](const auto& info) { return std::string(info.param.name); });

double value_of(const std::vector<CoordValue>& values, const std::string& metric, int64_t layer) {
  for (const CoordValue& v : values)
    if (v.metric == metric && v.layer == layer) return v.value;
  ADD_FAILURE() << "no metric " << metric << " at layer " << layer;
  return NAN;
}

// RMS of mult * x (A - B) for x [rows, in] and A, B [in, out], by plain loops in double.
double rms_of_product(const float* x, const float* A, const float* B, int64_t rows, int64_t in,
                      int64_t out, double mult) {
  double sq = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < out; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < in; ++i)
        acc += double(x[r * in + i]) * (double(A[i * out + j]) - (B ? B[i * out + j] : 0.0));
      sq += mult * acc * mult * acc;
    }
  return std::sqrt(sq / double(rows * out));
}

TEST(CoordProbe, StepZeroHasNoUpdatesAndTheInitTermIsTheMoeOutput) {
  ModelConfig c = small_config();
  Model<float> model(c, random_plan(c, 4), kBatch);
  model.init(6);
  std::vector<int32_t> inputs, targets;
  random_tokens(c, kBatch, 8, inputs, targets);
  const CoordProbe probe(model, inputs, targets);
  const std::vector<CoordValue> values = probe.measure(model);
  int updates = 0;
  for (const CoordValue& v : values) {
    if (v.metric.rfind("eff.", 0) == 0 || v.metric.rfind("prop.", 0) == 0 ||
        v.metric.rfind("delta.", 0) == 0 || v.metric == "moe.prop" || v.metric == "moe.eff" ||
        v.metric == "moe.cross") {
      EXPECT_EQ(v.value, 0.0) << v.metric << " layer " << v.layer;
      ++updates;
    }
  }
  // Per block: 7 roles x eff/prop, moe.prop/eff/cross, delta.resid; then the readout's
  // eff/prop and delta.logits.
  EXPECT_EQ(updates, 2 * (2 * 7 + 3 + 1) + 3);
  for (int64_t l = 0; l < c.L; ++l)
    EXPECT_NEAR(value_of(values, "moe.init", l), value_of(values, "act.moe_out", l),
                1e-5 * value_of(values, "act.moe_out", l));
  EXPECT_GT(value_of(values, "act.logits", -1), 0.0);
  EXPECT_GT(value_of(values, "loss", -1), 0.0);
}

TEST(CoordProbe, UpdatesAreTheProductsOfTheirDefinitions) {
  ModelConfig c = small_config();
  c.tied_embed = false;  // the unembedding's own multiplier enters the readout
  Model<float> model(c, random_plan(c, 4), kBatch);
  model.init(6);
  std::vector<int32_t> inputs, targets;
  random_tokens(c, kBatch, 8, inputs, targets);
  const CoordProbe probe(model, inputs, targets);
  const std::vector<float> params0 = model.params();
  const std::vector<float> attn_x0 = model.block_acts()[1].attn.ln.out;
  const std::vector<float> final_x0 = model.final_norm_out();
  perturb(model, 10, 0.2);
  const std::vector<CoordValue> values = probe.measure(model);  // runs the forward at W_t

  const auto tensor = [&](const std::string& name) -> const TensorInfo& {
    return model.tensors()[size_t(find_tensor(model.tensors(), name))];
  };
  const auto mult = [&](const std::string& name) {
    return model.plan().tensors[size_t(find_tensor(model.tensors(), name))].multiplier;
  };
  const int64_t R = model.rows(), N = c.N;
  // Block 1's W_V: effective = mult x_t (W_t - W_0), propagating = mult (x_t - x_0) W_0.
  const TensorInfo& wv = tensor("blocks.1.attn.wv");
  const float* xt = model.block_acts()[1].attn.ln.out.data();
  std::vector<float> dx(size_t(R * N));
  for (size_t i = 0; i < dx.size(); ++i) dx[i] = xt[i] - attn_x0[i];
  const double m = mult("blocks.1.attn.wv");
  EXPECT_NEAR(
      value_of(values, "eff.attn_v", 1),
      rms_of_product(xt, model.params().data() + wv.offset, params0.data() + wv.offset, R, N, N, m),
      1e-5);
  EXPECT_NEAR(value_of(values, "prop.attn_v", 1),
              rms_of_product(dx.data(), params0.data() + wv.offset, nullptr, R, N, N, m), 1e-5);
  // The readout: logits = readout_mult * unembed_mult * x W.
  const TensorInfo& un = tensor("unembed");
  const double ro = model.plan().block.readout_mult * mult("unembed");
  const float* ft = model.final_norm_out().data();
  for (size_t i = 0; i < dx.size(); ++i) dx[i] = ft[i] - final_x0[i];
  EXPECT_NEAR(value_of(values, "eff.readout", -1),
              rms_of_product(ft, model.params().data() + un.offset, params0.data() + un.offset, R,
                             N, c.vocab, ro),
              1e-5);
  EXPECT_NEAR(value_of(values, "prop.readout", -1),
              rms_of_product(dx.data(), params0.data() + un.offset, nullptr, R, N, c.vocab, ro),
              1e-5);
  EXPECT_NEAR(value_of(values, "act.logits", -1),
              rms_of_product(ft, model.params().data() + un.offset, nullptr, R, N, c.vocab, ro),
              1e-5);
  EXPECT_GT(value_of(values, "eff.readout", -1), 1e-3);
  EXPECT_GT(value_of(values, "prop.readout", -1), 1e-3);
}

}  // namespace
}  // namespace moet
