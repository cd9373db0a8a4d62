// The built-in presets against their documented exponents (docs/parameterization.md), along
// every single-axis ladder, for Adam and SGD. Init stds are measured on real buffers drawn by
// init_parameters<double>; LR, eps and wd are read from the hyper vector the optimizer consumes.
//
// Tolerances: LR, eps, wd and block scalars are exact power laws, checked to 1e-12 relative.
// A measured std has relative standard error about 1/sqrt(2 n) for n independent draws, so a
// std (or a ratio of two) is checked to 5 standard errors, combined over base and target; the
// smallest tensor pooled here (the base router, 512 draws) gives about 17% on a ratio of 4^x,
// well inside the factor 1.41 that a wrong exponent of 1/4 would produce on these x4 ladders.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/init.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

// Exponents of the ratios target/base along each axis.
struct Law {
  double N = 0, Ne = 0, M = 0, K = 0, L = 0;
};
Law operator+(const Law& a, const Law& b) {
  return {a.N + b.N, a.Ne + b.Ne, a.M + b.M, a.K + b.K, a.L + b.L};
}
double predicted(const Law& law, const Ladder& ladder) {
  const auto r = [&](Axis a) { return double(ladder.target[a]) / double(ladder.base[a]); };
  return std::pow(r(Axis::N), law.N) * std::pow(r(Axis::Ne), law.Ne) * std::pow(r(Axis::M), law.M) *
         std::pow(r(Axis::K), law.K) * std::pow(r(Axis::L), law.L);
}

enum class Init { normal, zero, one };

struct RoleLaw {
  Role role;
  Init init;
  Law std, adam_lr, sgd_lr, eps;
};

struct PresetLaws {
  std::string preset;
  std::vector<RoleLaw> roles;
  Law attn_scale, aggregation, readout;
  bool wd_tracks_lr;  // wd = wd0 / (LR ratio) on matrices and embeddings (else wd0)
  std::string default_depth;
};

// Depth rules (presets/depth.toml): factors on tensors inside blocks.
struct DepthLaw {
  std::vector<Role> roles;
  Law adam_lr, sgd_lr, eps, residual;
};

const std::vector<Role> kHiddenRoles = {Role::attn_qk,    Role::attn_v,      Role::attn_o,
                                        Role::router,     Role::expert_up,   Role::expert_down,
                                        Role::shared_up,  Role::shared_down, Role::dense_up,
                                        Role::dense_down, Role::bias};

DepthLaw depth_law(const std::string& name) {
  if (name == "completep") return {kHiddenRoles, {}, {.L = 1}, {.L = -1}, {.L = -1}};
  if (name == "depth-mup") {
    std::vector<Role> roles = kHiddenRoles;
    roles.push_back(Role::norm);
    return {roles, {.L = -0.5}, {}, {.L = -0.5}, {.L = -0.5}};
  }
  return {};
}

const Law kNone{};

PresetLaws sp_laws() {
  const Law proj{.L = -0.5};  // GPT-2's sigma0 / sqrt(2 L) on residual projections
  std::vector<RoleLaw> roles;
  for (const Role r : {Role::embed, Role::pos_embed, Role::unembed, Role::attn_qk, Role::attn_v,
                       Role::router, Role::expert_up, Role::shared_up, Role::dense_up})
    roles.push_back({r, Init::normal, kNone, kNone, kNone, kNone});
  for (const Role r : {Role::attn_o, Role::expert_down, Role::shared_down, Role::dense_down})
    roles.push_back({r, Init::normal, proj, kNone, kNone, kNone});
  roles.push_back({Role::norm, Init::one, kNone, kNone, kNone, kNone});
  roles.push_back({Role::bias, Init::zero, kNone, kNone, kNone, kNone});
  return {"sp", roles, kNone, {.K = -1}, kNone, false, "none"};
}

PresetLaws mup_laws() {
  const Law width{.N = 1}, hidden_std{.N = -0.5}, hidden_lr{.N = -1};
  return {"mup",
          {{Role::embed, Init::normal, kNone, kNone, width, kNone},
           {Role::pos_embed, Init::normal, kNone, kNone, width, kNone},
           {Role::unembed, Init::normal, kNone, kNone, width, kNone},
           {Role::norm, Init::one, kNone, kNone, width, kNone},
           {Role::bias, Init::zero, kNone, kNone, width, kNone},
           {Role::attn_qk, Init::normal, hidden_std, hidden_lr, kNone, kNone},
           {Role::attn_v, Init::normal, hidden_std, hidden_lr, kNone, kNone},
           {Role::attn_o, Init::normal, hidden_std, hidden_lr, kNone, kNone},
           {Role::dense_up, Init::normal, hidden_std, hidden_lr, kNone, kNone},
           {Role::dense_down, Init::normal, hidden_std, hidden_lr, kNone, kNone},
           {Role::router, Init::normal, hidden_std, hidden_lr, {.N = -1, .M = 1}, kNone},
           {Role::expert_up, Init::normal, hidden_std, hidden_lr, {.N = -1, .Ne = 1}, kNone},
           {Role::shared_up, Init::normal, hidden_std, hidden_lr, {.N = -1, .Ne = 1}, kNone},
           {Role::expert_down, Init::normal, {.Ne = -0.5}, {.Ne = -1}, {.N = 1, .Ne = -1}, kNone},
           {Role::shared_down, Init::normal, {.Ne = -0.5}, {.Ne = -1}, {.N = 1, .Ne = -1}, kNone}},
          kNone,
          {.K = -1},
          {.N = -1},
          true,
          "none"};
}

PresetLaws completep_moe_laws() {
  const Law width{.N = 1}, inv_width{.N = -1}, hidden_std{.N = -0.5};
  const Law up_sgd{.N = -1, .Ne = 1}, down_std{.N = 0.5, .Ne = -1};
  return {"completep-moe",
          {{Role::embed, Init::normal, kNone, kNone, width, inv_width},
           {Role::pos_embed, Init::normal, kNone, kNone, width, inv_width},
           {Role::unembed, Init::normal, kNone, kNone, width, inv_width},
           {Role::norm, Init::one, kNone, kNone, kNone, kNone},
           {Role::bias, Init::zero, kNone, kNone, kNone, kNone},
           {Role::attn_qk, Init::normal, hidden_std, inv_width, kNone, inv_width},
           {Role::attn_v, Init::normal, hidden_std, inv_width, kNone, inv_width},
           {Role::attn_o, Init::normal, hidden_std, inv_width, kNone, inv_width},
           {Role::router, Init::normal, inv_width, inv_width, kNone, inv_width},
           {Role::expert_up, Init::normal, hidden_std, inv_width, up_sgd, {.Ne = -1}},
           {Role::shared_up, Init::normal, hidden_std, inv_width, up_sgd, {.Ne = -1}},
           {Role::expert_down, Init::normal, down_std, {.Ne = -1}, up_sgd, {.N = 1, .Ne = -2}},
           {Role::shared_down, Init::normal, down_std, {.Ne = -1}, up_sgd, {.N = 1, .Ne = -2}},
           {Role::dense_up, Init::normal, hidden_std, inv_width, kNone, inv_width},
           {Role::dense_down, Init::normal, hidden_std, inv_width, kNone, inv_width}},
          kNone,
          {.K = -1},
          {.N = -1},
          true,
          "completep"};
}

PresetLaws mup_moe_laws() {
  const Law width{.N = 1}, inv_width{.N = -1}, hidden_std{.N = -0.5};
  return {
      "mup-moe",
      {{Role::embed, Init::normal, kNone, kNone, width, inv_width},
       {Role::pos_embed, Init::normal, kNone, kNone, width, inv_width},
       {Role::unembed, Init::zero, kNone, kNone, width, inv_width},
       {Role::norm, Init::one, kNone, kNone, width, inv_width},
       {Role::bias, Init::zero, kNone, kNone, width, inv_width},
       {Role::attn_qk, Init::normal, hidden_std, inv_width, kNone, inv_width},
       {Role::attn_v, Init::normal, hidden_std, inv_width, kNone, inv_width},
       {Role::attn_o, Init::normal, hidden_std, inv_width, kNone, inv_width},
       {Role::dense_up, Init::normal, hidden_std, inv_width, kNone, inv_width},
       {Role::dense_down, Init::normal, hidden_std, inv_width, kNone, inv_width},
       {Role::router, Init::normal, {.N = -1, .M = 0.5}, inv_width, {.N = -1, .M = 1}, {.M = -1}},
       {Role::expert_up,
        Init::normal,
        hidden_std,
        inv_width,
        {.N = -1, .Ne = 1, .M = 1},
        {.Ne = -1, .M = -1}},
       {Role::expert_down,
        Init::normal,
        {.Ne = -0.5},
        {.Ne = -1},
        {.N = 1, .Ne = -1, .M = 1},
        {.N = -1, .M = -1}},
       {Role::shared_up, Init::normal, hidden_std, inv_width, {.N = -1, .Ne = 1}, {.Ne = -1}},
       {Role::shared_down, Init::normal, {.Ne = -0.5}, {.Ne = -1}, {.N = 1, .Ne = -1}, inv_width}},
      kNone,
      {.K = -1},
      {.N = -1},
      true,
      "none"};
}

// MSSP = mup-moe with one regime-specific change ([P2-MSSP]).
PresetLaws mssp_laws(const std::string& regime) {
  PresetLaws laws = mup_moe_laws();
  laws.preset = "mssp";
  for (RoleLaw& r : laws.roles) {
    if (regime == "I" && r.role == Role::router) r.init = Init::zero;
    if (regime == "II" && r.role == Role::expert_down) r.std = {.Ne = -0.5, .M = 0.5};
  }
  return laws;
}

// Pooled RMS of every tensor of `role` and the number of independent draws behind it.
struct Measured {
  double rms = 0;
  double draws = 0;
};
Measured measure(const Parameterization& p, const std::vector<double>& params, Role role) {
  double sum_sq = 0, count = 0, draws = 0;
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const TensorInfo& t = p.tensors[i];
    if (t.role != role) continue;
    for (int64_t j = 0; j < t.numel; ++j) sum_sq += params[t.offset + j] * params[t.offset + j];
    count += double(t.numel);
    draws += double(p.plan.tensors[i].tied_across_experts ? t.numel / t.experts : t.numel);
  }
  return {count > 0 ? std::sqrt(sum_sq / count) : 0, draws};
}

std::vector<double> draw(const Parameterization& p) {
  std::vector<double> params(total_numel(p.tensors));
  init_parameters<double>(p.tensors, p.plan, 1234, params.data());
  return params;
}

void expect_ratio(double base, double target, double expected, const std::string& what) {
  ASSERT_GT(base, 0) << what;
  EXPECT_NEAR(target / base, expected, 1e-12 * expected) << what;
}

void check_init(const PresetLaws& laws, const Ladder& ladder, const Parameterization& base,
                const Parameterization& target) {
  const std::vector<double> base_params = draw(base), target_params = draw(target);
  for (const RoleLaw& r : laws.roles) {
    SCOPED_TRACE(role_name(r.role));
    const Measured b = measure(base, base_params, r.role);
    const Measured t = measure(target, target_params, r.role);
    for (size_t i = 0; i < target.tensors.size(); ++i) {
      if (target.tensors[i].role != r.role) continue;
      const TensorPlan& plan = target.plan.tensors[i];
      const InitKind expected = r.init == Init::normal ? InitKind::normal
                                : r.init == Init::zero ? InitKind::zero
                                                       : InitKind::one;
      EXPECT_EQ(int(plan.init), int(expected)) << target.tensors[i].name;
    }
    if (r.init == Init::zero) {
      EXPECT_EQ(t.rms, 0.0);
      continue;
    }
    if (r.init == Init::one) {
      EXPECT_EQ(t.rms, 1.0);
      continue;
    }
    const double tolerance = 5 * std::sqrt(0.5 / b.draws + 0.5 / t.draws);
    const double expected = predicted(r.std, ladder);
    EXPECT_NEAR(t.rms / b.rms, expected, tolerance * expected) << "measured std ratio";
  }
}

// Every tensor of a (role, inside-blocks) group must share its settings; returns the first.
int group_representative(const Parameterization& p, Role role, bool in_block) {
  const int first = first_tensor(p, role, in_block);
  for (size_t i = 0; first >= 0 && i < p.tensors.size(); ++i) {
    if (p.tensors[i].role != role || (p.tensors[i].layer >= 0) != in_block) continue;
    EXPECT_EQ(p.hyper[i].lr, p.hyper[first].lr) << p.tensors[i].name;
    EXPECT_EQ(p.hyper[i].eps, p.hyper[first].eps) << p.tensors[i].name;
    EXPECT_EQ(p.hyper[i].wd, p.hyper[first].wd) << p.tensors[i].name;
    EXPECT_EQ(p.plan.tensors[i].multiplier, 1.0) << p.tensors[i].name;
  }
  return first;
}

void check_hyper(const PresetLaws& laws, const DepthLaw& depth, const Ladder& ladder, bool sgd,
                 const Parameterization& base, const Parameterization& target) {
  for (const RoleLaw& r : laws.roles) {
    for (const bool in_block : {false, true}) {
      const int b = group_representative(base, r.role, in_block);
      const int t = group_representative(target, r.role, in_block);
      ASSERT_EQ(b < 0, t < 0);
      if (b < 0) continue;
      SCOPED_TRACE(target.tensors[t].name);
      const bool deepened = in_block && std::find(depth.roles.begin(), depth.roles.end(), r.role) !=
                                            depth.roles.end();
      const Law lr =
          (sgd ? r.sgd_lr : r.adam_lr) + (deepened ? (sgd ? depth.sgd_lr : depth.adam_lr) : kNone);
      const Law eps = r.eps + (deepened ? depth.eps : kNone);
      const param::TensorHyper& hb = base.hyper[b];
      const param::TensorHyper& ht = target.hyper[t];
      expect_ratio(hb.lr, ht.lr, predicted(lr, ladder), "lr");
      if (sgd) {
        EXPECT_EQ(ht.eps, 0.0);
      } else {
        expect_ratio(hb.eps, ht.eps, predicted(eps, ladder), "eps");
      }
      if (r.role == Role::norm || r.role == Role::bias) {
        EXPECT_EQ(ht.wd, 0.0) << "no decay on gains and biases";
      } else if (laws.wd_tracks_lr) {
        EXPECT_NEAR(ht.lr * ht.wd, hb.lr * hb.wd, 1e-12 * hb.lr * hb.wd) << "lr * wd";
      } else {
        EXPECT_EQ(ht.wd, hb.wd);
      }
    }
  }
  // route_bias: eta_bias, Theta(1) on every ladder (paper 1 Scaling Rule 2); no eps, no decay.
  const int rb = first_tensor(target, Role::route_bias, true);
  ASSERT_GE(rb, 0);
  EXPECT_EQ(target.hyper[rb].lr, target.globals.bias_lr);
  EXPECT_EQ(target.hyper[rb].eps, 0.0);
  EXPECT_EQ(target.hyper[rb].wd, 0.0);

  const BlockPlan& bb = base.plan.block;
  const BlockPlan& bt = target.plan.block;
  expect_ratio(bb.residual_mult, bt.residual_mult, predicted(depth.residual, ladder), "residual");
  expect_ratio(bb.attn_logit_scale, bt.attn_logit_scale, predicted(laws.attn_scale, ladder),
               "attn_scale");
  expect_ratio(bb.aggregation_mult, bt.aggregation_mult, predicted(laws.aggregation, ladder),
               "aggregation");
  expect_ratio(bb.readout_mult, bt.readout_mult, predicted(laws.readout, ladder), "readout");
}

void check_preset(const PresetLaws& laws, const std::string& depth_name,
                  const std::map<std::string, std::string>& extra,
                  const std::vector<Ladder>& ladders) {
  const DepthLaw depth = depth_law(depth_name);
  for (const Ladder& ladder : ladders) {
    for (const std::string optimizer : {"adam", "sgd"}) {
      SCOPED_TRACE(laws.preset + " along " + ladder.name + " with " + optimizer);
      const Parameterization target =
          resolve_for(laws.preset, optimizer, ladder.base, ladder.target, extra);
      // The base run of a ladder cannot infer a regime (nothing differs): it takes the target's.
      std::map<std::string, std::string> base_extra = extra;
      if (!target.regime.empty()) base_extra["param.regime"] = target.regime;
      const Parameterization base =
          resolve_for(laws.preset, optimizer, ladder.base, ladder.base, base_extra);
      EXPECT_EQ(target.depth, depth_name);
      check_hyper(laws, depth, ladder, optimizer == "sgd", base, target);
      if (optimizer == "adam") check_init(laws, ladder, base, target);
    }
  }
}

TEST(ScalingLaws, SpAlongEveryAxis) { check_preset(sp_laws(), "none", {}, single_axis_ladders()); }

TEST(ScalingLaws, MupAlongEveryAxis) {
  check_preset(mup_laws(), "none", {}, single_axis_ladders());
}

TEST(ScalingLaws, CompletepMoeAlongEveryAxis) {
  check_preset(completep_moe_laws(), "completep", {}, single_axis_ladders());
}

TEST(ScalingLaws, MupMoeAlongEveryAxis) {
  check_preset(mup_moe_laws(), "none", {}, single_axis_ladders());
}

TEST(ScalingLaws, MsspAlongEveryAxisForEachRegime) {
  for (const std::string regime : {"I", "II", "III"})
    check_preset(mssp_laws(regime), "none", {{"param.regime", regime}}, single_axis_ladders());
}

TEST(ScalingLaws, MsspOnItsOwnRegimeLadders) {
  for (const std::string regime : {"I", "II", "III"})
    check_preset(mssp_laws(regime), "none", {}, {regime_ladder(regime)});
}

// Depth rules compose with any preset: the preset's width laws plus the rule's depth laws.
TEST(ScalingLaws, DepthRulesComposeWithEveryPreset) {
  const Ladder depth_ladder = single_axis_ladders().back();
  ASSERT_EQ(depth_ladder.name, "L");
  for (const std::string depth : {"none", "completep", "depth-mup"}) {
    for (const PresetLaws& laws : {sp_laws(), mup_laws(), completep_moe_laws(), mup_moe_laws()})
      check_preset(laws, depth, {{"param.depth", depth}}, {depth_ladder});
    check_preset(mssp_laws("II"), depth, {{"param.depth", depth}, {"param.regime", "II"}},
                 {depth_ladder});
  }
}

TEST(ScalingLaws, EachPresetHasTheDocumentedDefaultDepth) {
  for (const PresetLaws& laws : {sp_laws(), mup_laws(), completep_moe_laws(), mup_moe_laws()})
    EXPECT_EQ(resolve_for(laws.preset, "adam", kBase, kBase).depth, laws.default_depth)
        << laws.preset;
}

}  // namespace
}  // namespace moet::testing
