// Rules in the run's token budget (D) and batch (B), ratios to the base run where eta was tuned
// (param.base.tokens, param.base.batch): hyperp's horizon and batch laws and complete-mue's
// batch and duration rules along each, no change when the base is absent or the rules are
// switched off, and what `moet params` shows.
#include <gtest/gtest.h>

#include <cmath>

#include "model/config.h"
#include "param/preset.h"
#include "param/rule.h"
#include "param_fixtures.h"

namespace moet::testing {
namespace {

constexpr double kEta = 0.01;

std::map<std::string, std::string> with(std::map<std::string, std::string> sets,
                                        const std::map<std::string, std::string>& more) {
  for (const auto& [k, v] : more) sets[k] = v;
  return sets;
}

// all_roles_model's run: 64 tokens per sequence, train.batch 8 (the default), 100 steps.
std::map<std::string, std::string> run(int64_t batch, int64_t steps,
                                       std::map<std::string, std::string> sets) {
  sets["train.batch"] = std::to_string(batch);
  sets["train.steps"] = std::to_string(steps);
  return sets;
}

const std::map<std::string, std::string> kHyperp = {{"model.router_score", "softmax"},
                                                    {"model.gate_renorm", "true"},
                                                    {"model.gate_fn", "sqrt"},
                                                    {"model.shared_experts", "0"}};
const std::map<std::string, std::string> kCompleteMue = {{"model.gate_renorm", "true"}};

// The base run: batch 8 x 64 tokens for 100 steps.
std::map<std::string, std::string> with_base_run(std::map<std::string, std::string> sets) {
  sets["param.base.batch"] = std::to_string(8 * 64);
  sets["param.base.tokens"] = std::to_string(100 * 8 * 64);
  return sets;
}

struct RunLadder {
  std::string name;
  int64_t batch, steps;
  double D, B;  // ratios to the base run
};

// Tokens x4 at a fixed batch, batch x4 at fixed tokens, and both x4 at fixed steps.
const std::vector<RunLadder> kRunLadders = {{"tokens x4", 8, 400, 4, 1},
                                            {"batch x4", 32, 25, 1, 4},
                                            {"batch and tokens x4", 32, 100, 4, 4}};

TEST(RunRules, SymbolsAreRatiosOfTheRunToTheBaseRun) {
  const param::Rule rule = param::Rule::parse("D^-0.32 * B^1/2 * (B/D)^1/2");
  param::RuleScope scope;
  scope.tokens_ratio = 8, scope.batch_ratio = 2;
  EXPECT_NEAR(rule.eval(scope), std::pow(8.0, -0.32) * std::sqrt(2.0) * 0.5, 1e-15);
  EXPECT_EQ(rule.exponent(param::Symbol::D), -0.32 - 0.5);
  EXPECT_EQ(param::Rule::parse("D").eval({}), 1.0) << "1 at the base run";
}

// HyperP's global LR, eta sqrt(L0 / L) (T / T0)^-0.32 sqrt(B / B0), on every optimizer tensor
// (Muon and AdamW ones); the balancing bias keeps eta_bias.
TEST(RunRules, HyperpScalesEveryLrWithTheHorizonAndBatchLaws) {
  for (const RunLadder& ladder : kRunLadders) {
    SCOPED_TRACE("hyperp along " + ladder.name);
    const AxisValues deep = scaled(kBase, {Axis::L}, 4);
    const Parameterization p = resolve_for("hyperp", "muon", kBase, deep,
                                           with_base_run(run(ladder.batch, ladder.steps, kHyperp)));
    EXPECT_TRUE(p.run_rules_used);
    const double law = std::sqrt(0.25) * std::pow(ladder.D, -0.32) * std::sqrt(ladder.B);
    for (size_t i = 0; i < p.tensors.size(); ++i) {
      SCOPED_TRACE(p.tensors[i].name);
      if (p.tensors[i].trainable) {
        EXPECT_NEAR(p.hyper[i].lr, kEta * law, 1e-15);
      } else {
        EXPECT_EQ(p.hyper[i].lr, p.globals.bias_lr);
      }
    }
  }
}

// Complete-muE's batch and duration rules, as ratios to the same shape at the base run: LR and
// decay x sqrt(rho_B / rho_D), Adam epsilon x sqrt(rho_D / rho_B), on every column.
TEST(RunRules, CompleteMueScalesLrDecayAndEpsilonWithBatchOverTokens) {
  for (const std::string optimizer : {"adam", "adamw", "sgd", "muon"})
    for (const RunLadder& ladder : kRunLadders) {
      SCOPED_TRACE("complete-mue, " + optimizer + ", along " + ladder.name);
      const AxisValues wide = scaled(kBase, {Axis::N}, 4);
      const Parameterization t =
          resolve_for("complete-mue", optimizer, kBase, wide,
                      with_base_run(run(ladder.batch, ladder.steps, kCompleteMue)));
      const Parameterization at_base =
          resolve_for("complete-mue", optimizer, kBase, wide, run(8, 100, kCompleteMue));
      const double rule = std::sqrt(ladder.B / ladder.D);
      for (size_t i = 0; i < t.tensors.size(); ++i) {
        SCOPED_TRACE(t.tensors[i].name);
        const param::TensorHyper &h = t.hyper[i], &h0 = at_base.hyper[i];
        if (!t.tensors[i].trainable) {
          EXPECT_EQ(h.lr, h0.lr) << "eta_bias is no optimizer LR";
          continue;
        }
        EXPECT_NEAR(h.lr / h0.lr, rule, 1e-12);
        if (h0.wd != 0) {
          EXPECT_NEAR(h.wd / h0.wd, rule, 1e-12);
        }
        if (h0.eps != 0) {
          EXPECT_NEAR(h.eps / h0.eps, 1 / rule, 1e-12);
        }
        EXPECT_EQ(h.wd == 0, h0.wd == 0);
        EXPECT_EQ(h.eps == 0, h0.eps == 0);
      }
    }
}

std::vector<std::pair<std::string, std::map<std::string, std::string>>> every_preset() {
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  for (const std::string& name : param::preset_names()) {
    std::map<std::string, std::string> sets = run(8, 100, {});
    if (name == "mssp") sets["param.regime"] = "I";
    if (name == "hyperp") sets = run(8, 100, kHyperp), sets["optim.name"] = "muon";
    if (name == "complete-mue") sets = run(8, 100, kCompleteMue);
    out.push_back({name, sets});
  }
  return out;
}

Parameterization resolve_preset(const std::string& name, std::map<std::string, std::string> sets) {
  std::map<std::string, std::string> config = all_roles_model();
  config["param.preset"] = name;
  for (const auto& [k, v] : sets) config[k] = v;
  return resolve_parameterization(make_config(config));
}

// An absent base run is the run itself: every preset gives the same bits, and the JSON a
// checkpoint stores the same bytes, as with the base run given equal to the run or the rules
// switched off; presets without rules in D or B ignore the run altogether.
TEST(RunRules, AbsentBaseRunChangesNothing) {
  for (const auto& [name, sets] : every_preset()) {
    SCOPED_TRACE(name);
    const Parameterization plain = resolve_preset(name, sets);
    const std::string json = param::to_json(plain).dump();
    EXPECT_EQ(json.find("\"run\""), std::string::npos);
    EXPECT_EQ(param::to_json(resolve_preset(name, with_base_run(sets))).dump(), json);
    auto longer = with_base_run(run(32, 400, sets));
    longer["param.run_rules"] = "false";
    const Parameterization off = resolve_preset(name, longer);
    EXPECT_EQ(off.base_run, off.target_run);
    longer.erase("param.run_rules");
    const Parameterization on = resolve_preset(name, longer);
    ASSERT_EQ(on.hyper.size(), plain.hyper.size());
    const bool scaled_by_run = name == "hyperp" || name == "complete-mue";
    EXPECT_EQ(on.run_rules_used, scaled_by_run);
    for (size_t i = 0; i < plain.hyper.size(); ++i) {
      SCOPED_TRACE(plain.tensors[i].name);
      EXPECT_EQ(off.hyper[i].lr, plain.hyper[i].lr);
      EXPECT_EQ(off.hyper[i].eps, plain.hyper[i].eps);
      EXPECT_EQ(off.hyper[i].wd, plain.hyper[i].wd);
      if (scaled_by_run || !plain.tensors[i].trainable) continue;
      EXPECT_EQ(on.hyper[i].lr, plain.hyper[i].lr);
      EXPECT_EQ(on.hyper[i].eps, plain.hyper[i].eps);
      EXPECT_EQ(on.hyper[i].wd, plain.hyper[i].wd);
    }
  }
}

// `moet params` shows the run and its base where a rule reads them, the JSON keeps them when
// they differ and reads them back, and a negative base is one line naming the key.
TEST(RunRules, TableAndJsonShowTheRunsTheRulesRead) {
  const Parameterization p =
      resolve_for("hyperp", "muon", kBase, kBase, with_base_run(run(8, 400, kHyperp)));
  const std::string table = param::format_table(p);
  EXPECT_NE(table.find("tokens 51200   batch 512\n"), std::string::npos) << table;
  EXPECT_NE(table.find("tokens 204800   batch 512\n"), std::string::npos) << table;
  EXPECT_EQ(p.base_run, (param::RunHorizon{51200, 512}));
  EXPECT_EQ(p.target_run, (param::RunHorizon{204800, 512}));
  const nlohmann::json json = param::to_json(p);
  EXPECT_EQ(json["run"]["base"]["tokens"], 51200);
  std::map<std::string, std::string> model_sets = with(all_roles_model(), kHyperp);
  for (const Axis a : param::kAllAxes)
    model_sets[std::string("model.") + param::axis_name(a)] = std::to_string(kBase[a]);
  const ModelConfig model = model_config_from(make_config(model_sets));
  const Parameterization back = param::from_json(json, model);
  EXPECT_EQ(back.base_run, p.base_run);
  EXPECT_EQ(back.target_run, p.target_run);
  EXPECT_EQ(param::to_json(back).dump(), json.dump());

  const std::string sp_table = param::format_table(resolve_preset("sp", run(8, 100, {})));
  EXPECT_EQ(sp_table.find("tokens"), std::string::npos) << "no rule reads the run";

  for (const char* key : {"param.base.tokens", "param.base.batch"}) {
    const std::string error = error_of([&] { resolve_preset("sp", {{key, "-1"}}); });
    EXPECT_EQ(error, std::string(key) + ": must not be negative (got -1; 0 means the run's own)");
  }
}

}  // namespace
}  // namespace moet::testing
