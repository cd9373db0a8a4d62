// Preset tables as data: the built-ins are complete, users' tables load from files (with
// `extends`), the schemes of docs/presets/ can be held as user tables, and a bad
// table fails with one line naming the file, the role and the field.
#include <gtest/gtest.h>

#include "param/embedded.h"
#include "param/preset.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

TEST(Presets, BuiltInsAreTheDocumentedEightAndDepthRulesThree) {
  EXPECT_EQ(param::preset_names(),
            (std::vector<std::string>{"complete-mue", "completep-moe", "hyperp", "mssp", "mup",
                                      "mup-moe", "mup-router-readout", "sp"}));
  EXPECT_EQ(param::depth_rule_names(),
            (std::vector<std::string>{"completep", "depth-mup", "none"}));
  EXPECT_TRUE(param::embedded_presets().count("depth")) << "depth rules ship with the presets";
}

TEST(Presets, EveryBuiltInHasACompleteRowForEveryRole) {
  for (const auto& name : param::preset_names()) {
    const param::Preset preset = param::load_preset(name);
    EXPECT_EQ(preset.name, name);
    EXPECT_FALSE(preset.source.empty()) << name;
    for (const Role role : all_roles()) {
      SCOPED_TRACE(name + " " + role_name(role));
      ASSERT_TRUE(preset.rules.roles.count(role));
      const param::RoleRules& row = preset.rules.roles.at(role);
      // hyperp is Muon only: its hidden matrices have a Muon LR and nothing else, no role has
      // an SGD LR.
      const bool muon_row = name == "hyperp" && param::muon_may_update(role);
      EXPECT_TRUE(row.init && (muon_row ? row.muon_lr && !row.adam_lr : bool(row.adam_lr)));
      EXPECT_EQ(bool(row.sgd_lr), name != "hyperp");
      if (role != Role::route_bias) {
        EXPECT_TRUE((row.eps || muon_row) && row.wd);
      }
    }
    const param::BlockRules& block = preset.rules.block;
    EXPECT_TRUE(block.residual && block.attn_scale && block.aggregation && block.readout) << name;
  }
  EXPECT_EQ(param::load_preset("mssp").regimes.size(), 3u);
  EXPECT_TRUE(param::load_preset("mup-moe").regimes.empty());
}

// Paper 1's App. D.1 constants and sigma0 at the base shape ([P1-T2], [P1-D1]).
TEST(Presets, CompletepMoeCarriesPaper1ConstantsAtTheBase) {
  const auto p = resolve_for("completep-moe", "adam", kBase, kBase);
  const double sigma0 = 0.02, eta = 0.01;
  EXPECT_DOUBLE_EQ(p.globals.init_std, sigma0);
  const auto std_of = [&](Role r) { return p.plan.tensors[first_tensor(p, r, true)].init_std; };
  const auto lr_of = [&](Role r) { return p.hyper[first_tensor(p, r, true)].lr; };
  EXPECT_DOUBLE_EQ(std_of(Role::attn_qk), sigma0);
  EXPECT_DOUBLE_EQ(std_of(Role::attn_v), sigma0 / 16);
  EXPECT_DOUBLE_EQ(std_of(Role::router), sigma0);
  EXPECT_DOUBLE_EQ(std_of(Role::expert_down), sigma0 / 4);
  EXPECT_DOUBLE_EQ(lr_of(Role::attn_qk), eta / 16);
  EXPECT_DOUBLE_EQ(lr_of(Role::attn_v), eta / 16);
  EXPECT_DOUBLE_EQ(lr_of(Role::router), eta / 16);
  EXPECT_DOUBLE_EQ(lr_of(Role::expert_down), eta / 16);
  EXPECT_DOUBLE_EQ(lr_of(Role::attn_o), eta);
  EXPECT_DOUBLE_EQ(lr_of(Role::expert_up), eta);
  EXPECT_DOUBLE_EQ(p.plan.block.residual_mult, 1.0 / 2) << "absolute 1/L";
  EXPECT_DOUBLE_EQ(p.plan.block.attn_logit_scale, 1.0 / 16) << "1/d_head";
  EXPECT_DOUBLE_EQ(p.plan.block.aggregation_mult, 1.0 / 2) << "1/K";
}

// SGD LR = Adam LR / Adam eps, row by row and on every ladder: paper 2's tables satisfy it, and
// it is how the SGD columns of completep-moe and the depth rules are derived.
TEST(Presets, SgdColumnIsAdamLrOverEps) {
  for (const std::string preset : {"completep-moe", "mup-moe", "mssp"}) {
    for (const Ladder& ladder : single_axis_ladders()) {
      SCOPED_TRACE(preset + " along " + ladder.name);
      const std::map<std::string, std::string> extra = {{"param.regime", "II"}};
      const auto adam = resolve_for(preset, "adam", ladder.base, ladder.target, extra);
      const auto sgd = resolve_for(preset, "sgd", ladder.base, ladder.target, extra);
      const auto adam0 = resolve_for(preset, "adam", ladder.base, ladder.base, extra);
      const auto sgd0 = resolve_for(preset, "sgd", ladder.base, ladder.base, extra);
      for (const Role role : all_roles()) {
        if (role == Role::route_bias) continue;
        for (const bool in_block : {false, true}) {
          const int t = first_tensor(adam, role, in_block), b = first_tensor(adam0, role, in_block);
          if (t < 0) continue;
          const double adam_ratio = adam.hyper[t].lr / adam0.hyper[b].lr;
          const double eps_ratio = adam.hyper[t].eps / adam0.hyper[b].eps;
          const double sgd_ratio = sgd.hyper[t].lr / sgd0.hyper[b].lr;
          EXPECT_NEAR(sgd_ratio, adam_ratio / eps_ratio, 1e-12 * sgd_ratio) << adam.tensors[t].name;
        }
      }
    }
  }
}

TEST(Presets, UserTableLoadsFromAFileAndExtends) {
  TempDir dir;
  dir.write("parent.toml", R"(
init_std = 0.5
[block]
attn_scale = "8 * d_head^-1"
[roles]
embed       = { std = "1", adam_lr = "1", sgd_lr = "N" }
pos_embed   = { std = "1", adam_lr = "1", sgd_lr = "N" }
unembed     = { std = "zero", adam_lr = "1", sgd_lr = "N" }
norm        = { std = "one", adam_lr = "1", sgd_lr = "1", wd = 0 }
bias        = { std = "zero", adam_lr = "1", sgd_lr = "1", wd = 0 }
route_bias  = { std = 0.01, adam_lr = "1", sgd_lr = "1" }
attn_qk     = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1", eps = "N^-1" }
attn_v      = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
attn_o      = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
router      = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
expert_up   = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
expert_down = { std = "fan_in^-1/2", adam_lr = "Ne^-1", sgd_lr = "1" }
shared_up   = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
shared_down = { std = "fan_in^-1/2", adam_lr = "Ne^-1", sgd_lr = "1" }
dense_up    = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
dense_down  = { std = "fan_in^-1/2", adam_lr = "N^-1", sgd_lr = "1" }
)");
  const std::string child = dir.write("child.toml", R"(
name = "mine"
extends = "parent.toml"
[roles]
router = { mult = "N^-1", eps = "M^-1" }
)");
  const AxisValues target = scaled(kBase, {Axis::N, Axis::M, Axis::K}, 2);
  const auto p = resolve_for(child, "adam", kBase, target);
  EXPECT_EQ(p.preset, child);
  EXPECT_DOUBLE_EQ(p.globals.init_std, 0.5) << "init_std inherited";
  EXPECT_DOUBLE_EQ(p.plan.block.attn_logit_scale, 8.0 / 16);
  EXPECT_DOUBLE_EQ(p.plan.block.readout_mult, 1.0) << "absent block cells default";
  const int router = first_tensor(p, Role::router, true);
  EXPECT_DOUBLE_EQ(p.plan.tensors[router].multiplier, 0.5) << "child cell";
  EXPECT_DOUBLE_EQ(p.plan.tensors[router].init_std, 0.5 / std::sqrt(128.0)) << "parent cell";
  EXPECT_DOUBLE_EQ(p.hyper[router].lr, 0.01 / 2);
  EXPECT_DOUBLE_EQ(p.hyper[router].eps, 1e-8 / 2);
  EXPECT_DOUBLE_EQ(p.hyper[router].wd, 0.1) << "absent wd is wd0";
  EXPECT_DOUBLE_EQ(p.plan.tensors[first_tensor(p, Role::route_bias, true)].init_std, 0.005);
}

// [MUPMOE-2508] and [CMUE-2605]: the other schemes, now built-in presets.
TEST(Presets, OtherSchemesResolve) {
  const AxisValues target = scaled(kBase, {Axis::N}, 4);

  const auto readout = resolve_for("mup-router-readout", "adam", kBase, target);
  const int router = first_tensor(readout, Role::router, true);
  EXPECT_DOUBLE_EQ(readout.plan.tensors[router].multiplier, 0.25) << "router logits x N0/N";
  EXPECT_DOUBLE_EQ(readout.plan.tensors[router].init_std, 0.02);
  EXPECT_DOUBLE_EQ(readout.hyper[router].lr, 0.01);

  const auto mue = resolve_for("complete-mue", "adam", kBase, target,
                               {{"model.gate_renorm", "true"}, {"model.shared_experts", "0"}});
  const int down = first_tensor(mue, Role::expert_down, true);
  const double N = 256, K = 2, Ne = 64;
  EXPECT_DOUBLE_EQ(mue.plan.tensors[down].multiplier, N / (K * Ne)) << "A = N / H_act";
  EXPECT_DOUBLE_EQ(mue.plan.tensors[down].init_std, 0.02 * std::sqrt(K * Ne / N) / 2);
  EXPECT_DOUBLE_EQ(mue.hyper[down].lr, 0.01 / 4) << "LR 1/N, no Ne or K factor";
  EXPECT_DOUBLE_EQ(mue.plan.block.aggregation_mult, K) << "route scale R = K";
}

struct BadTable {
  std::string text;
  std::string message;  // the error must contain this
};

TEST(Presets, BadTablesFailWithOneLineNamingFileRoleAndField) {
  TempDir dir;
  const std::vector<BadTable> cases = {
      {"[roles]\nrouter = { std = \"N^-1\", adam_lr = \"Q^-1\" }",
       "role router, field adam_lr: unknown symbol 'Q'"},
      {"[roles]\nrouter = { std = \"N^-1\", lrr = \"1\" }",
       "role router, field lrr: unknown field"},
      {"[roles]\nrouteur = { std = \"1\" }", "roles: unknown role 'routeur'"},
      {"[roles]\nrouter = { std = \"N^-1\", eps = \"lr^-1\" }",
       "role router, field eps: 'lr^-1' uses lr"},
      {"[roles]\nrouter = { tied = true }",
       "role router, field tied: role router has no expert axis to tie across (tied = true)"},
      {"[roles]\nroute_bias = { std = \"zero\", eps = \"N^-1\" }",
       "role route_bias, field eps: route_bias is moved by the balancing rule (balance.bias_lr), "
       "not by the optimizer, so it has no Adam epsilon (eps = \"N^-1\")"},
      {"[roles]\nroute_bias = { wd = 0 }",
       "role route_bias, field wd: route_bias is moved by the balancing rule (balance.bias_lr), "
       "not by the optimizer, so it has no weight decay (wd = \"0\")"},
      {"[roles]\nexpert_up = { std = -0.5 }", "role expert_up, field std: -0.5 is negative"},
      {"[roles]\nexpert_up = { adam_lr = true }", "role expert_up, field adam_lr: expected a rule"},
      {"[block]\nresidual = \"fan_in^-1\"", "block, field residual: 'fan_in^-1' uses fan_in"},
      {"[block]\nresid = \"1\"", "block, field resid: unknown field"},
      {"[regime.IV.roles]\nrouter = { std = \"zero\" }", "regime: 'IV' is not one of I|II|III"},
      {"[regime.II.roles]\nrouter = { std = \"N^-1/\" }",
       "regime II, role router, field std: expected"},
      {"depth = \"deep\"", "depth: 'deep' is not one of"},
      {"init_std = -1", "init_std: expected a positive number"},
      {"lr = 1", "lr: unknown key"},
      {"extends = \"nope\"", "extends: unknown preset 'nope'"},
      {"[roles\n", "invalid TOML"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string file = dir.write("bad" + std::to_string(i) + ".toml", cases[i].text);
    const std::string message = error_of([&] { param::load_preset(file); });
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(cases[i].message), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Presets, GapsInATableAreReportedWhenTheModelNeedsThem) {
  TempDir dir;
  const std::string partial = dir.write("partial.toml", "extends = \"sp\"\n");
  const std::string no_shared = dir.write("no_shared.toml", R"(
name = "no-shared"
[roles]
embed = { std = "1", adam_lr = "1" }
)");
  EXPECT_NO_THROW(resolve_for(partial, "sgd", kBase, kBase));
  const std::string gap = error_of([&] { resolve_for(no_shared, "adam", kBase, kBase); });
  EXPECT_NE(gap.find("no row for role pos_embed, which this model uses (pos_embed)"),
            std::string::npos)
      << gap;
  const std::string sgd_gap = error_of([&] {
    resolve_for(no_shared, "sgd", kBase, kBase, {{"model.pos", "rope"}});
  });
  EXPECT_NE(sgd_gap.find("role embed: no sgd_lr cell (needed for optim.name = sgd)"),
            std::string::npos)
      << sgd_gap;
}

TEST(Presets, UnknownNamesListTheValidOnes) {
  const std::string preset = error_of([] { resolve_for("mu-p", "adam", kBase, kBase); });
  EXPECT_EQ(preset,
            "param.preset: unknown preset 'mu-p' (built-in presets: complete-mue, completep-moe, "
            "hyperp, mssp, mup, mup-moe, mup-router-readout, sp; or a path to a .toml file)");
  const std::string regime = error_of([] {
    resolve_for("mup-moe", "adam", kBase, kBase, {{"param.regime", "IV"}});
  });
  EXPECT_EQ(regime, "param.regime: 'IV' is not one of auto|I|II|III");
  const std::string depth = error_of([] {
    resolve_for("sp", "adam", kBase, kBase, {{"param.depth", "complete"}});
  });
  EXPECT_EQ(depth, "param.depth: 'complete' is not one of preset|completep|depth-mup|none");
  const std::string missing =
      error_of([] { resolve_for("/no/such/file.toml", "adam", kBase, kBase); });
  EXPECT_NE(missing.find("/no/such/file.toml: cannot open"), std::string::npos) << missing;
}

TEST(Presets, ParamKeysAreInTheSchemaAndBaseZeroMeansTheTarget) {
  const Config config = make_config({{"model.N", "256"}});
  EXPECT_EQ(config.get_string("param.preset"), "completep-moe");
  const auto p = resolve_parameterization(config);
  EXPECT_EQ(p.base, p.target);
  const std::string bad = error_of([] {
    resolve_parameterization(make_config({{"param.base.N", "40"}, {"model.d_head", "16"}}));
  });
  EXPECT_EQ(
      bad, "param.base.N: must be divisible by model.d_head (N 40 is not a multiple of d_head 16)");
  const std::string bad_k = error_of([] {
    resolve_parameterization(make_config({{"param.base.K", "9"}, {"model.M", "8"}}));
  });
  EXPECT_EQ(bad_k, "param.base.K: must not exceed the base M (K 9 > M 8)");
}

}  // namespace
}  // namespace moet::testing
