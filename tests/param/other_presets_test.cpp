// The presets of the field's other MoE schemes and Muon, each along every axis it claims:
// complete-mue ([CMUE-2605]: N, Ne, M, K, granularity, shared experts, L), mup under Muon
// (sqrt(fan_out / fan_in), the muP-consistent scale), mup-router-readout ([MUPMOE-2508]: N),
// hyperp ([HYPERP-2603]: N, Ne, M, K, granularity, L; only with SqrtGate and Muon), the
// regime-range warning of mup-moe, and docs/presets/mssp-official.toml against the numbers of
// the MSSP authors' released configuration.
#include <gtest/gtest.h>

#include <cmath>

#include "param/preset.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

constexpr double kEta = 0.01, kSigma0 = 0.02;

std::map<std::string, std::string> with(std::map<std::string, std::string> sets,
                                        const std::map<std::string, std::string>& more) {
  for (const auto& [k, v] : more) sets[k] = v;
  return sets;
}

const std::map<std::string, std::string> kNormalisedSigmoid = {{"model.gate_renorm", "true"}};

double active_width(const AxisValues& shape, int64_t shared) {
  return double(shape[Axis::K] * shape[Axis::Ne] + shared * shape[Axis::Ne]);
}

// Complete-muE's ladders: every axis it claims, granularity as M, K up and Ne down.
std::vector<Ladder> complete_mue_ladders() {
  std::vector<Ladder> out = single_axis_ladders();
  AxisValues fine = scaled(kBase, {Axis::M, Axis::K}, 4);
  fine[Axis::Ne] /= 4;
  out.push_back({"granularity", kBase, fine});
  return out;
}

void check_complete_mue(const Ladder& ladder, int64_t shared) {
  SCOPED_TRACE("complete-mue along " + ladder.name + ", shared experts " + std::to_string(shared));
  const auto extra = with(kNormalisedSigmoid, {{"model.shared_experts", std::to_string(shared)}});
  const Parameterization t = resolve_for("complete-mue", "adam", ladder.base, ladder.target, extra);
  const Parameterization b = resolve_for("complete-mue", "adam", ladder.base, ladder.base, extra);
  const double N = double(ladder.target[Axis::N]), N0 = double(ladder.base[Axis::N]);
  const double h_act = active_width(ladder.target, shared);
  for (size_t i = 0; i < t.tensors.size(); ++i) {
    const TensorInfo& info = t.tensors[i];
    SCOPED_TRACE(info.name);
    if (info.role == Role::expert_down || info.role == Role::shared_down) {
      EXPECT_NEAR(t.plan.tensors[i].multiplier, N / h_act, 1e-12) << "A = N / H_act";
      EXPECT_NEAR(t.plan.tensors[i].init_std, kSigma0 * std::sqrt(h_act / N) * std::sqrt(N0 / N),
                  1e-15);
      EXPECT_NEAR(t.hyper[i].lr, kEta * N0 / N, 1e-15) << "LR 1/N, no Ne, K or depth factor";
    }
    // No MoE axis (Ne, M, K, granularity, shared experts) moves an LR, epsilon or decay.
    if (ladder.target[Axis::N] == ladder.base[Axis::N] &&
        ladder.target[Axis::L] == ladder.base[Axis::L]) {
      EXPECT_EQ(t.hyper[i].lr, b.hyper[i].lr);
      EXPECT_EQ(t.hyper[i].eps, b.hyper[i].eps);
      EXPECT_EQ(t.hyper[i].wd, b.hyper[i].wd);
    }
  }
  EXPECT_EQ(t.plan.block.aggregation_mult, double(ladder.target[Axis::K])) << "R = K";
  EXPECT_EQ(t.depth, "completep");
  EXPECT_NEAR(t.plan.block.residual_mult, 1.0 / double(ladder.target[Axis::L]), 1e-15);
}

TEST(OtherPresets, CompleteMueAlongEveryAxisItClaims) {
  for (const Ladder& ladder : complete_mue_ladders())
    for (const int64_t shared : {0, 1, 3}) check_complete_mue(ladder, shared);
}

// The routed sum of Complete-muE is meant for normalised sigmoid gates: other gates stop
// resolution with one line naming the file and the key, rather than train something else.
TEST(OtherPresets, CompleteMueRequiresNormalisedSigmoidGates) {
  const std::string no_renorm = error_of([] { resolve_for("complete-mue", "adam", kBase, kBase); });
  EXPECT_NE(no_renorm.find("presets/complete-mue.toml: requires model.gate_renorm = true"),
            std::string::npos)
      << no_renorm;
  EXPECT_NE(no_renorm.find("--set model.gate_renorm=true"), std::string::npos) << no_renorm;
  EXPECT_EQ(no_renorm.find('\n'), std::string::npos);
  const std::string softmax = error_of([] {
    resolve_for("complete-mue", "adam", kBase, kBase,
                with(kNormalisedSigmoid, {{"model.router_score", "softmax"}}));
  });
  EXPECT_NE(softmax.find("requires model.router_score = sigmoid"), std::string::npos) << softmax;
}

// One rung of the Muon check below.
void check_muon_scale(const std::string& preset, const std::string& act, const Ladder& ladder) {
  const auto extra = std::map<std::string, std::string>{{"model.act", act}};
  const Parameterization muon = resolve_for(preset, "muon", ladder.base, ladder.target, extra);
  const Parameterization adam = resolve_for(preset, "adam", ladder.base, ladder.target, extra);
  for (size_t i = 0; i < muon.tensors.size(); ++i) {
    const TensorInfo& t = muon.tensors[i];
    const param::TensorHyper& h = muon.hyper[i];
    SCOPED_TRACE(t.name);
    if (!t.trainable) continue;
    ASSERT_EQ(h.orthogonalised, param::muon_may_update(t.role));
    if (!h.orthogonalised) {
      EXPECT_EQ(h.lr, adam.hyper[i].lr);
      EXPECT_EQ(h.eps, adam.hyper[i].eps);
      continue;
    }
    EXPECT_NEAR(h.lr, kEta * std::sqrt(double(t.fan_out) / double(t.fan_in)), 1e-15);
    EXPECT_EQ(h.eps, 0.0);
    EXPECT_FALSE(h.norm_preserved);
    const bool up =
        t.role == Role::expert_up || t.role == Role::shared_up || t.role == Role::dense_up;
    EXPECT_EQ(h.column_blocks, up && act == "swiglu" ? 2 : 1);
  }
}

// mup and completep-moe under Muon: every hidden matrix orthogonalised at eta sqrt(fan_out /
// fan_in) and nothing else (completep's depth rule gives Muon no depth factor, D20; paper 1's
// Adam-tuned group constants stay in the Adam column, D25), on every ladder; embeddings, gains,
// biases and the readout on AdamW with the preset's own Adam LR and epsilon.
TEST(OtherPresets, MuonUsesTheMuPConsistentScaleAlongEveryAxis) {
  for (const std::string preset : {"mup", "completep-moe"}) {
    for (const std::string act : {"gelu", "swiglu"}) {
      for (const Ladder& ladder : single_axis_ladders()) {
        SCOPED_TRACE(preset + " " + ladder.name + " " + act);
        check_muon_scale(preset, act, ladder);
      }
    }
  }
}

TEST(OtherPresets, MuonWithoutMuonCellsIsRejected) {
  const std::string error = error_of([] { resolve_for("sp", "muon", kBase, kBase); });
  EXPECT_NE(error.find("presets/sp.toml: optim.name = muon, but no role this model uses has a "
                       "muon_lr cell"),
            std::string::npos)
      << error;
}

// [MUPMOE-2508]: the router as a readout, along N (the only axis the paper claims).
TEST(OtherPresets, MupRouterReadoutAlongWidth) {
  const Ladder ladder = single_axis_ladders().front();
  ASSERT_EQ(ladder.name, "N");
  for (const std::string optimizer : {"adam", "sgd", "muon"}) {
    SCOPED_TRACE(optimizer);
    const auto t = resolve_for("mup-router-readout", optimizer, ladder.base, ladder.target);
    const auto b = resolve_for("mup-router-readout", optimizer, ladder.base, ladder.base);
    const int router = first_tensor(t, Role::router, true);
    EXPECT_DOUBLE_EQ(t.plan.tensors[router].multiplier / b.plan.tensors[router].multiplier, 0.25);
    EXPECT_DOUBLE_EQ(t.plan.tensors[router].init_std, b.plan.tensors[router].init_std);
    const double lr_ratio = t.hyper[router].lr / b.hyper[router].lr;
    // Adam: an output layer's LR (Theta(1)); SGD: x N; Muon: sqrt(fan_out/fan_in) x N, i.e.
    // x sqrt(N) here, the muP spectral size of the effective (multiplied) router.
    const double expected = optimizer == "adam" ? 1.0 : optimizer == "sgd" ? 4.0 : 2.0;
    EXPECT_NEAR(lr_ratio, expected, 1e-12);
  }
}

// HyperP's architecture: softmax gates renormalised after top-K, SqrtGate, no shared experts.
const std::map<std::string, std::string> kHyperpModel = {{"model.router_score", "softmax"},
                                                         {"model.gate_renorm", "true"},
                                                         {"model.gate_fn", "sqrt"},
                                                         {"model.shared_experts", "0"}};

// Any other architecture or optimizer stops resolution with one line naming what is wrong.
TEST(OtherPresets, HyperpResolvesOnlyForItsArchitectureUnderMuon) {
  EXPECT_NO_THROW(resolve_for("hyperp", "muon", kBase, kBase, kHyperpModel));
  for (const auto& [key, value] : kHyperpModel) {
    std::map<std::string, std::string> other = kHyperpModel;
    other.erase(key);
    const std::string error = error_of([&] { resolve_for("hyperp", "muon", kBase, kBase, other); });
    EXPECT_NE(error.find("presets/hyperp.toml: requires " + key + " = " + value), std::string::npos)
        << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  const std::string adam =
      error_of([] { resolve_for("hyperp", "adam", kBase, kBase, kHyperpModel); });
  EXPECT_NE(adam.find("presets/hyperp.toml: role attn_qk: no adam_lr cell"), std::string::npos)
      << adam;
}

// Along width, expert width, experts, K, granularity and depth: MuonH on every hidden matrix at
// eta sqrt(L0 / L) with no width factor, AdamW on the rest at the same LR, no decay, init
// 1/sqrt(3 fan_in), 1/sqrt(2 L) branches.
TEST(OtherPresets, HyperpAlongEveryAxisItClaims) {
  for (const Ladder& ladder : complete_mue_ladders()) {
    SCOPED_TRACE("hyperp along " + ladder.name);
    const Parameterization p = resolve_for("hyperp", "muon", ladder.base, ladder.target,
                                           with(kHyperpModel, {{"optim.wd", "0.1"}}));
    const double L = double(ladder.target[Axis::L]), L0 = double(ladder.base[Axis::L]);
    for (size_t i = 0; i < p.tensors.size(); ++i) {
      const TensorInfo& t = p.tensors[i];
      const param::TensorHyper& h = p.hyper[i];
      SCOPED_TRACE(t.name);
      if (!t.trainable) continue;
      const bool hidden = param::muon_may_update(t.role);
      EXPECT_EQ(h.orthogonalised, hidden);
      EXPECT_EQ(h.norm_preserved, hidden);
      EXPECT_NEAR(h.lr, kEta * std::sqrt(L0 / L), 1e-15);
      EXPECT_EQ(h.wd, 0.0);
      if (hidden) {
        EXPECT_NEAR(p.plan.tensors[i].init_std, 1 / std::sqrt(3.0 * double(t.fan_in)), 1e-15);
      }
    }
    EXPECT_NEAR(p.plan.block.residual_mult, 1 / std::sqrt(2 * L), 1e-15);
    EXPECT_EQ(p.plan.block.aggregation_mult, 1.0);
    EXPECT_EQ(p.plan.block.readout_mult, 1.0);
  }
}

// HyperP's table as written: MuonH on every hidden matrix with the depth-muP LR sqrt(L0 / L), no
// width factor anywhere, AdamW for the rest at the same depth factor, no decay, 1/sqrt(2L)
// branches, kaiming-uniform's std 1/sqrt(3 fan_in).
TEST(OtherPresets, HyperpTableHoldsItsDepthAndWidthRules) {
  const param::Preset p = param::load_preset("hyperp");
  using param::Symbol;
  for (const auto& [role, row] : p.rules.roles) {
    SCOPED_TRACE(role_name(role));
    if (role == Role::route_bias) continue;
    const param::Rule& lr = param::muon_may_update(role) ? *row.muon_lr : *row.adam_lr;
    EXPECT_EQ(param::muon_may_update(role), row.sphere.value_or(false));
    EXPECT_EQ(param::muon_may_update(role), !row.adam_lr.has_value());
    EXPECT_EQ(lr.exponent(Symbol::L), -0.5);
    for (const Symbol s : {Symbol::N, Symbol::Ne, Symbol::M, Symbol::K, Symbol::abs_N})
      EXPECT_EQ(lr.exponent(s), 0.0) << "no width factor";
    EXPECT_EQ(row.wd->eval({}), 0.0);
    if (param::muon_may_update(role)) {
      EXPECT_EQ(row.init->std.exponent(Symbol::fan_in), -0.5);
      EXPECT_NEAR(row.init->std.constant(), 1 / std::sqrt(3.0), 1e-15);
    }
  }
  EXPECT_EQ(p.rules.block.residual->exponent(Symbol::abs_L), -0.5);
  EXPECT_NEAR(p.rules.block.residual->constant(), 1 / std::sqrt(2.0), 1e-15);
}

// mup-moe's rows were derived on paper 2's three regime ladders; elsewhere they are moet's
// monomial extrapolation, which a warning says (and a regime ladder does not get).
TEST(OtherPresets, MupMoeWarnsOutsideItsRegimes) {
  const auto warned = [](const Ladder& l) {
    const auto p = resolve_for("mup-moe", "adam", l.base, l.target);
    for (const auto& w : p.warnings)
      if (w.find("was derived for paper 2's regimes I, II, III only") != std::string::npos)
        return true;
    return false;
  };
  for (const std::string regime : {"I", "II", "III"})
    EXPECT_FALSE(warned(regime_ladder(regime))) << regime;
  for (const Ladder& ladder : single_axis_ladders())
    EXPECT_EQ(warned(ladder), ladder.name != "L") << ladder.name;  // L is not a regime axis
}

// The MSSP authors' released base point, at their base and one regime-III step up, against the
// numbers their code computes (absolute eps 1e-8 x {1/N, 1/M, 1/(N M), 1}; LR x 256/N x tuned
// multiplier; wd 0.1 / (256/N x multiplier); expert_down init 4/sqrt(Ne); zero readout).
TEST(OtherPresets, MsspOfficialReproducesTheReleasedConstants) {
  const std::string table = std::string(MOET_SOURCE_DIR) + "/docs/presets/mssp-official.toml";
  const AxisValues base = {{256, 128, 8, 4, 2}};
  const std::map<std::string, std::string> official = {
      {"optim.name", "adamw"}, {"optim.eps", "1e-8"},  {"optim.lr", "4.64159e-3"},
      {"param.regime", "III"}, {"model.d_head", "64"}, {"model.linear_bias", "false"}};
  for (const int64_t r : {1, 2}) {
    const AxisValues target = scaled(base, {Axis::N, Axis::Ne, Axis::M, Axis::K}, r);
    const auto p = resolve_for(table, "adamw", base, target, official);
    const double N = double(target[Axis::N]), M = double(target[Axis::M]);
    const double lr_scale = 256 / N, eta = 4.64159e-3;
    const auto at = [&](Role role) {
      return size_t(first_tensor(p, role, role != Role::embed && role != Role::unembed));
    };
    const std::vector<std::tuple<Role, double, double, double>> rows = {
        // role, LR, eps, wd
        {Role::embed, eta * 16, 1e-8 / N, 0.1 / 16},
        {Role::norm, eta, 1e-8 / N, 0.1},
        {Role::attn_qk, eta * lr_scale * 2, 1e-8 / N, 0.1 / (lr_scale * 2)},
        {Role::attn_o, eta * lr_scale * 2, 1e-8 / N, 0.1 / (lr_scale * 2)},
        {Role::router, eta * lr_scale * 8, 1e-8 / M, 0.1 / (lr_scale * 8)},
        {Role::expert_up, eta * lr_scale * 2, 1e-8 / (N * M), 0.1 / (lr_scale * 2)},
        {Role::expert_down, eta * lr_scale * 128, 1e-8 / (N * M), 0.1 / (lr_scale * 128)},
        {Role::unembed, eta * lr_scale * 8, 1e-8, 0.1 / (lr_scale * 8)}};
    for (const auto& [role, lr, eps, wd] : rows) {
      SCOPED_TRACE(std::string(role_name(role)) + " at N " + std::to_string(int64_t(N)));
      const param::TensorHyper& h = p.hyper[at(role)];
      EXPECT_NEAR(h.lr, lr, 1e-12 * lr);
      EXPECT_NEAR(h.eps, eps, 1e-12 * eps);
      EXPECT_NEAR(h.wd, wd, 1e-12 * wd);
    }
    const TensorPlan& down = p.plan.tensors[at(Role::expert_down)];
    EXPECT_NEAR(down.init_std, 4 / std::sqrt(double(target[Axis::Ne])), 1e-15);
    EXPECT_TRUE(down.tied_across_experts);
    EXPECT_EQ(p.plan.tensors[at(Role::unembed)].init, InitKind::zero);
    EXPECT_EQ(p.plan.block.readout_mult, 1.0);
    EXPECT_NEAR(p.plan.block.aggregation_mult, 1 / double(target[Axis::K]), 1e-15);
  }
}

}  // namespace
}  // namespace moet::testing
