#include "coord/moe_split.h"

#include "core/error.h"
#include "kernels/linear.h"
#include "kernels/routing.h"
#include "model/mlp.h"

namespace moet {

namespace {

// The tensor at layout index `index` as a Weight over `params`; a null Weight for -1.
Weight<float> weight_in(const Model<float>& model, int index, const float* params) {
  if (index < 0) return {};
  return Weight<float>{const_cast<float*>(params) + model.tensors()[size_t(index)].offset, nullptr,
                       float(model.plan().tensors[size_t(index)].multiplier)};
}

}  // namespace

MlpWeights<float> expert_weights(const Model<float>& model, int64_t layer, const float* params,
                                 int64_t e) {
  const ModelConfig& c = model.config();
  const int64_t up = c.up_cols(c.Ne);
  // The slicing of moe_layer.cpp: expert e holds N*up_cols (up), Ne*N (down) consecutive values.
  const MlpIndex& i = model.layout().blocks[size_t(layer)].experts;
  return {weight_in(model, i.up, params).expert(e, c.N * up),
          weight_in(model, i.up_bias, params).expert(e, up),
          weight_in(model, i.down, params).expert(e, c.Ne * c.N),
          weight_in(model, i.down_bias, params).expert(e, c.N), c.Ne};
}

MoeSplit moe_split(const Model<float>& model, int64_t layer, const float* params0,
                   const float* x0) {
  const ModelConfig& c = model.config();
  MOET_CHECK(layer >= 0 && layer < c.L && c.is_moe_block(layer));
  const FfnActs<float>& a = model.block_acts()[size_t(layer)].ffn;
  const RoutingActs<float>& r = a.routing;
  const int64_t R = model.rows(), N = c.N, K = c.K, Ne = c.Ne, A = R * K;
  const int64_t up = c.up_cols(Ne);
  const bool swiglu = c.act == Activation::swiglu;
  const float* params_t = model.params().data();

  MoeSplit s;
  s.x0_perm.resize(size_t(A * N));
  gather_assignments<float>(s.x0_perm.data(), x0, r.order.data(), R, K, N);
  s.h0.resize(size_t(A * Ne));
  std::vector<float> pre0(size_t(A * up));
  // Per assignment (step-t expert order) before combining.
  std::vector<float> init(size_t(A * N)), prop(size_t(A * N)), eff(size_t(A * N)),
      cross(size_t(A * N)), dh(size_t(A * Ne));
  std::vector<float> dW3(static_cast<size_t>(Ne * N)), db3(static_cast<size_t>(N));
  for (int64_t e = 0; e < c.M; ++e) {
    const int64_t p0 = r.offsets[size_t(e)], rows = r.offsets[size_t(e) + 1] - p0;
    if (rows == 0) continue;
    const MlpWeights<float> w0 = expert_weights(model, layer, params0, e);
    const MlpWeights<float> wt = expert_weights(model, layer, params_t, e);
    float* h0 = s.h0.data() + p0 * Ne;
    // init: W3_0 h_0 + b3_0, and h_0 itself.
    mlp_forward<float>(init.data() + p0 * N, MlpBuffers<float>{pre0.data() + p0 * up, h0},
                       s.x0_perm.data() + p0 * N, rows, N, w0, swiglu, Accumulate::no);
    const float* ht = a.exp_act.data() + p0 * Ne;
    float* d = dh.data() + p0 * Ne;
    for (int64_t i = 0; i < rows * Ne; ++i) d[i] = ht[i] - h0[i];
    for (int64_t i = 0; i < Ne * N; ++i) dW3[size_t(i)] = wt.down.value[i] - w0.down.value[i];
    // The bias update acts with the bias's own multiplier.
    ScaledVector<float> db;
    if (wt.down_bias) {
      for (int64_t j = 0; j < N; ++j)
        db3[size_t(j)] = wt.down_bias.value[j] - w0.down_bias.value[j];
      db = {db3.data(), nullptr, wt.down_bias.mult};
    }
    const float mult = wt.down.mult;
    linear_forward<float>(prop.data() + p0 * N, d, w0.down.value, {}, rows, Ne, N, mult);
    linear_forward<float>(eff.data() + p0 * N, h0, dW3.data(), db, rows, Ne, N, mult);
    linear_forward<float>(cross.data() + p0 * N, d, dW3.data(), {}, rows, Ne, N, mult);
  }
  const auto combine = [&](std::vector<float>& out, const std::vector<float>& per_assignment) {
    out.resize(size_t(R * N));
    combine_assignments<float>(out.data(), per_assignment.data(), r.combine_weight.data(),
                               r.position.data(), R, K, N, Accumulate::no);
  };
  combine(s.init, init);
  combine(s.propagating, prop);
  combine(s.effective, eff);
  combine(s.cross, cross);
  return s;
}

}  // namespace moet
