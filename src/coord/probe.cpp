#include "coord/probe.h"

#include <cmath>

#include "coord/moe_split.h"
#include "core/error.h"
#include "kernels/gemm.h"

namespace moet {

double rms(const float* values, int64_t n) {
  if (n <= 0) return 0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += double(values[i]) * values[i];
  return std::sqrt(sq / double(n));
}

namespace {

// RMS of (a - b) / scale: a branch recovered from the residual streams around it.
double rms_difference(const float* a, const float* b, int64_t n, double scale = 1.0) {
  if (n <= 0) return 0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = (double(a[i]) - b[i]) / scale;
    sq += d * d;
  }
  return std::sqrt(sq / double(n));
}

struct TensorRef {
  int64_t offset = 0;
  float mult = 1;
};

TensorRef tensor_ref(const Model<float>& model, int index) {
  MOET_CHECK(index >= 0);
  return {model.tensors()[size_t(index)].offset,
          float(model.plan().tensors[size_t(index)].multiplier)};
}

// The readout: logits = mult * x W with W = unembed [N, V], or the tied embedding [V, N] used
// transposed. The multiplier is the model's (Model::readout_mult): the block readout factor
// times the unembedding's own multiplier (the tied embedding's acts on the input side only).
struct Readout {
  int64_t offset = 0;
  bool transposed = false;
  float mult = 1;
};

Readout readout_of(const Model<float>& model) {
  const ModelLayout& layout = model.layout();
  const double block = model.plan().block.readout_mult;
  if (layout.unembed >= 0) {
    const TensorRef t = tensor_ref(model, layout.unembed);
    return {t.offset, false, float(block * t.mult)};
  }
  return {tensor_ref(model, layout.embed).offset, true, float(block)};
}

// out [rows, out_dim] = mult * x W, W [in, out_dim] or (transposed) [out_dim, in].
void product(float* out, const float* x, const float* W, int64_t rows, int64_t in, int64_t out_dim,
             float mult, bool transposed) {
  gemm<float>(Transpose::no, Transpose{transposed}, rows, out_dim, in, mult, x, in, W,
              transposed ? in : out_dim, 0.0f, out, out_dim);
}

// A block of rows of the layer input and the weights that act on it: the whole batch for a
// dense projection, one expert's tokens for an expert projection.
struct Segment {
  int64_t row0 = 0, rows = 0;
  const float* W_t = nullptr;
  const float* W_0 = nullptr;
};

struct UpdateRms {
  double effective = 0, propagating = 0;
};

// effective = RMS of mult x_t (W_t - W_0), propagating = RMS of mult (x_t - x_0) W_0, over all
// segments' output entries.
UpdateRms linear_updates(const std::vector<Segment>& segments, const float* x_t, const float* x_0,
                         int64_t in, int64_t out_dim, float mult, bool transposed = false) {
  double eff_sq = 0, prop_sq = 0;
  int64_t count = 0;
  std::vector<float> dW(size_t(in * out_dim)), dx, y;
  for (const Segment& s : segments) {
    if (s.rows == 0) continue;
    for (int64_t i = 0; i < in * out_dim; ++i) dW[size_t(i)] = s.W_t[i] - s.W_0[i];
    const float* xt = x_t + s.row0 * in;
    const float* x0 = x_0 + s.row0 * in;
    dx.resize(size_t(s.rows * in));
    for (int64_t i = 0; i < s.rows * in; ++i) dx[size_t(i)] = xt[i] - x0[i];
    y.resize(size_t(s.rows * out_dim));
    const int64_t n = s.rows * out_dim;
    product(y.data(), xt, dW.data(), s.rows, in, out_dim, mult, transposed);
    for (int64_t i = 0; i < n; ++i) eff_sq += double(y[size_t(i)]) * y[size_t(i)];
    product(y.data(), dx.data(), s.W_0, s.rows, in, out_dim, mult, transposed);
    for (int64_t i = 0; i < n; ++i) prop_sq += double(y[size_t(i)]) * y[size_t(i)];
    count += n;
  }
  if (count == 0) return {};
  return {std::sqrt(eff_sq / double(count)), std::sqrt(prop_sq / double(count))};
}

template <typename V>
std::vector<float> copy_of(const V& v) {
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace

CoordProbe::CoordProbe(Model<float>& model, std::vector<int32_t> inputs,
                       std::vector<int32_t> targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  const ModelConfig& c = model.config();
  const int64_t R = model.rows(), N = c.N;
  if (int64_t(inputs_.size()) != R || int64_t(targets_.size()) != R)
    fail("coordinate probe: the probe batch has {} tokens, the model takes {}", inputs_.size(), R);
  model.forward(inputs_.data(), targets_.data());
  params0_ = model.params();
  for (int64_t l = 0; l < c.L; ++l) {
    const BlockActs<float>& a = model.block_acts()[size_t(l)];
    BlockInputs b{copy_of(a.attn.ln.out), copy_of(a.attn.att), copy_of(a.ffn.ln.out), {}};
    if (!c.is_moe_block(l)) b.dense_act = copy_of(a.ffn.act);
    inputs0_.push_back(std::move(b));
  }
  for (int64_t l = 0; l <= c.L; ++l)
    resid0_.emplace_back(model.residual(l), model.residual(l) + R * N);
  final0_ = model.final_norm_out();
  const Readout ro = readout_of(model);
  logits0_.resize(size_t(R * c.vocab));
  product(logits0_.data(), final0_.data(), params0_.data() + ro.offset, R, N, c.vocab, ro.mult,
          ro.transposed);
}

std::vector<CoordValue> CoordProbe::measure(Model<float>& model) const {
  const ForwardResult result = model.forward(inputs_.data(), targets_.data());
  const ModelConfig& c = model.config();
  const int64_t R = model.rows(), N = c.N;
  const float* Wt = model.params().data();
  const float* W0 = params0_.data();
  const double rm = model.plan().block.residual_mult;
  std::vector<CoordValue> out;
  const auto add = [&out](const char* metric, int64_t layer, double value) {
    out.push_back({metric, layer, value});
  };
  const auto add_updates = [&add](const char* role, int64_t layer, const UpdateRms& u) {
    add((std::string("eff.") + role).c_str(), layer, u.effective);
    add((std::string("prop.") + role).c_str(), layer, u.propagating);
  };
  // A projection applied to the whole batch.
  const auto whole = [&](int index, const float* x_t, const float* x_0, int64_t in,
                         int64_t out_dim) {
    const TensorRef t = tensor_ref(model, index);
    return linear_updates({{0, R, Wt + t.offset, W0 + t.offset}}, x_t, x_0, in, out_dim, t.mult);
  };

  add("act.embed", -1, rms(model.residual(0), R * N));
  size_t moe_index = 0;
  for (int64_t l = 0; l < c.L; ++l) {
    const BlockActs<float>& a = model.block_acts()[size_t(l)];
    const BlockInputs& in0 = inputs0_[size_t(l)];
    const BlockIndex& w = model.layout().blocks[size_t(l)];
    add("act.resid", l, rms(model.residual(l + 1), R * N));
    add("delta.resid", l,
        rms_difference(model.residual(l + 1), resid0_[size_t(l + 1)].data(), R * N));
    add("act.attn_out", l, rms_difference(a.resid_mid.data(), model.residual(l), R * N, rm));
    const float* xa = a.attn.ln.out.data();
    add_updates("attn_q", l, whole(w.wq, xa, in0.attn_in.data(), N, N));
    add_updates("attn_k", l, whole(w.wk, xa, in0.attn_in.data(), N, N));
    add_updates("attn_v", l, whole(w.wv, xa, in0.attn_in.data(), N, N));
    add_updates("attn_o", l, whole(w.wo, a.attn.att.data(), in0.att.data(), N, N));

    const float* xf = a.ffn.ln.out.data();
    const double ffn_out = rms_difference(model.residual(l + 1), a.resid_mid.data(), R * N, rm);
    if (!c.is_moe_block(l)) {
      const int64_t Nf = c.dense_width();
      add("act.ffn_out", l, ffn_out);
      add_updates("dense_up", l, whole(w.ffn.up, xf, in0.ffn_in.data(), N, c.up_cols(Nf)));
      add_updates("dense_down", l,
                  whole(w.ffn.down, a.ffn.act.data(), in0.dense_act.data(), Nf, N));
      continue;
    }
    const RoutingStats& routing = model.routing()[moe_index++];
    const FfnActs<float>& f = a.ffn;
    const int64_t up = c.up_cols(c.Ne), A = R * c.K;
    add("act.moe_out", l, ffn_out);
    add("act.router_logits", l, routing.logit_rms);
    add("act.expert_pre", l, rms(f.exp_pre.data(), A * up));
    add("act.expert_out", l, rms(f.exp_out.data(), A * N));
    add("load.max_over_mean", l, routing.max_over_mean_load());
    add_updates("router", l, whole(w.router, xf, in0.ffn_in.data(), N, c.M));

    const MoeSplit split = moe_split(model, l, W0, in0.ffn_in.data());
    std::vector<Segment> up_segments, down_segments;
    for (int64_t e = 0; e < c.M; ++e) {
      const int64_t p0 = f.routing.offsets[size_t(e)];
      const int64_t rows = f.routing.offsets[size_t(e) + 1] - p0;
      const MlpWeights<float> wt = expert_weights(model, l, Wt, e);
      const MlpWeights<float> w0 = expert_weights(model, l, W0, e);
      up_segments.push_back({p0, rows, wt.up.value, w0.up.value});
      down_segments.push_back({p0, rows, wt.down.value, w0.down.value});
    }
    const float up_mult = expert_weights(model, l, Wt, 0).up.mult;
    const float down_mult = expert_weights(model, l, Wt, 0).down.mult;
    add_updates("expert_up", l,
                linear_updates(up_segments, f.x_perm.data(), split.x0_perm.data(), N, up, up_mult));
    add_updates(
        "expert_down", l,
        linear_updates(down_segments, f.exp_act.data(), split.h0.data(), c.Ne, N, down_mult));
    add("moe.init", l, rms(split.init.data(), R * N));
    add("moe.prop", l, rms(split.propagating.data(), R * N));
    add("moe.eff", l, rms(split.effective.data(), R * N));
    add("moe.cross", l, rms(split.cross.data(), R * N));
  }

  const Readout ro = readout_of(model);
  const float* x = model.final_norm_out().data();
  std::vector<float> logits(size_t(R * c.vocab));
  product(logits.data(), x, Wt + ro.offset, R, N, c.vocab, ro.mult, ro.transposed);
  add("act.logits", -1, rms(logits.data(), R * c.vocab));
  add("delta.logits", -1, rms_difference(logits.data(), logits0_.data(), R * c.vocab));
  add_updates("readout", -1,
              linear_updates({{0, R, Wt + ro.offset, W0 + ro.offset}}, x, final0_.data(), N,
                             c.vocab, ro.mult, ro.transposed));
  add("loss", -1, result.loss);
  return out;
}

}  // namespace moet
