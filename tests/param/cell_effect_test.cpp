// No cell of a parameterization table can be ignored unnoticed: for every role of models that
// have them all, and for every field a row may hold (param::role_field_names(), the list the
// parser reads), a user table that sets the cell to a non-default value either changes a short
// training run (its losses differ from the default's) or is rejected at resolution with one
// line naming the role, the field and the value. The same for every [block] field.
//
// Roles and fields come from the code's own lists (all_roles(), role_field_names(),
// block_field_names()), so a role or field added later is covered without touching this file.
// Which cells are rejected is not listed here either; it follows from the layout: a `tied` cell
// only where a tensor of the role has an expert axis, `eps` and `wd` only on roles the optimizer
// trains. A cell that resolves but leaves training bit-identical fails the test: that was the
// defect (`bias = { mult = "3" }` printed by `moet params`, stored, and ignored).
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "../support/one_thread.h"
#include "../support/run_binary.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/token_stream.h"
#include "model/model.h"
#include "optim/optimizer.h"
#include "param/preset.h"
#include "param_fixtures.h"
#include "train/train_step.h"

namespace moet::testing {
namespace {

// The first loss sees the init and the forward multipliers, the later ones the optimizer cells
// and the balancing rule. Two steps are not enough: Adam's first step is about lr * sign(g), so
// an L2 decay moves it too little to change a loss in a model this small (attn_qk wd).
constexpr int kSteps = 3;
constexpr int64_t kBatch = 2;

// The default every case departs from: mup, with biases and the balancing bias drawn rather
// than zero, so a cell that acts on their values (mult, tied) is visible from the first step.
constexpr const char* kBaseTable = R"(
name = "cell-effect-base"
extends = "mup"
[roles]
bias       = { std = "1" }
route_bias = { std = "1" }
)";

struct Architecture {
  std::string name;
  std::map<std::string, std::string> sets;
};

// Two small models: between them every role exists, and each vector acts on every path (fused
// bias + GELU, the SwiGLU bias, LayerNorm and RMSNorm gains, tied and untied readouts). Two
// shared experts, so that tying them across experts can show.
std::vector<Architecture> architectures() {
  const std::map<std::string, std::string> common = {{"model.vocab", "32"},
                                                     {"model.seq", "8"},
                                                     {"model.N", "16"},
                                                     {"model.d_head", "8"},
                                                     {"model.L", "2"},
                                                     {"model.M", "4"},
                                                     {"model.K", "2"},
                                                     {"model.Ne", "8"},
                                                     {"model.linear_bias", "true"},
                                                     {"model.shared_experts", "2"},
                                                     {"optim.lr", "0.01"},
                                                     {"optim.eps", "1e-3"},
                                                     {"optim.wd", "0.1"},
                                                     {"optim.warmup", "0"},
                                                     {"balance.bias_lr", "0.1"}};
  std::map<std::string, std::string> untied = common, tied = common;
  for (const auto& [key, value] : std::map<std::string, std::string>{
           {"model.tied_embed", "false"}, {"model.moe_every", "2"}, {"model.dense_Nf", "24"}})
    untied[key] = value;
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"model.norm", "rmsnorm"},
                                          {"model.pos", "rope"},
                                          {"model.act", "swiglu"},
                                          {"model.router_score", "softmax"},
                                          {"model.gate_renorm", "true"}})
    tied[key] = value;
  return {{"layernorm_gelu_untied_dense", untied}, {"rmsnorm_swiglu_rope_tied", tied}};
}

// The losses of kSteps training steps on fixed random tokens, as `moet train` takes them
// (StepRunner: forward, backward, optimizer, balancing rule).
std::vector<double> train_losses(const Config& config) {
  const Parameterization p = resolve_parameterization(config);
  const ModelConfig mc = model_config_from(config);
  Model<float> model(mc, p.plan, kBatch);
  model.init(3);
  Optimizer optimizer(optim_config_from(config), p.tensors, p.hyper);
  StepRunner runner(model, optimizer, p.hyper, 1, kSteps);
  Rng rng(5, 0);
  std::vector<int32_t> tokens(4096);
  for (int32_t& t : tokens) t = int32_t(rng.below(uint64_t(mc.vocab)));
  TokenStream stream;
  stream.add_tokens(tokens, "random");
  BatchLoader loader(stream, Split::train, kBatch, mc.seq, 7);
  std::vector<double> losses;
  for (int step = 0; step < kSteps; ++step) losses.push_back(runner.run(loader, step).loss);
  return losses;
}

// The optimizer a field is read under: the SGD LR column under SGD, the Muon cells under Muon,
// everything else under Adam (eps is Adam's).
std::string optimizer_for(const std::string& field) {
  if (field == "muon_lr" || field == "sphere") return "muon";
  return field == "sgd_lr" ? "sgd" : "adam";
}

bool is_flag(const std::string& field) { return field == "tied" || field == "sphere"; }

// A value no built-in cell has, in the field's TOML type.
std::string non_default_value(const std::string& field) {
  return is_flag(field) ? "true" : "\"2.5\"";
}

// Whether the model can honour the field for this role, from the tensors it has.
bool honourable(const std::string& field, Role role, const std::vector<TensorInfo>& tensors) {
  bool has_experts = false, trained = false;
  for (const TensorInfo& t : tensors)
    if (t.role == role) has_experts |= t.experts > 0, trained |= t.trainable;
  if (field == "tied") return has_experts;
  if (field == "eps" || field == "wd") return trained;
  if (field == "muon_lr" || field == "sphere") return trained && param::muon_may_update(role);
  return true;
}

// The resolved numbers of the tensors of one role (or the block scalars), to show that a table
// edit reached the parameterization before asking whether training saw it.
std::vector<double> resolved(const Parameterization& p, std::optional<Role> role) {
  std::vector<double> out;
  if (!role) {
    const BlockPlan& b = p.plan.block;
    return {b.residual_mult, b.attn_logit_scale, b.aggregation_mult, b.readout_mult};
  }
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    if (p.tensors[i].role != *role) continue;
    const TensorPlan& t = p.plan.tensors[i];
    const param::TensorHyper& h = p.hyper[i];
    out.insert(out.end(), {double(t.init), t.init_std, double(t.tied_across_experts), t.multiplier,
                           h.lr, h.eps, h.wd, double(h.orthogonalised), double(h.norm_preserved)});
  }
  return out;
}

class CellEffect : public ::testing::TestWithParam<Architecture> {
 protected:
  void SetUp() override { base_ = dir_.write("base.toml", kBaseTable); }

  Config config(const std::string& preset, const std::string& optimizer) const {
    std::map<std::string, std::string> sets = GetParam().sets;
    sets["param.preset"] = preset;
    sets["optim.name"] = optimizer;
    return make_config(sets);
  }

  // One cell set in a table extending the base: rejected with one line naming role (or block),
  // field and value, or resolved to different numbers and trained to different losses.
  void check_cell(const std::string& section, std::optional<Role> role, const std::string& field,
                  bool expect_rejection) {
    const std::string what =
        (role ? std::string(role_name(*role)) : section) + "." + field + " in " + GetParam().name;
    const std::string value = non_default_value(field);
    const std::string line =
        role ? std::string(role_name(*role)) + " = { " + field + " = " + value + " }"
             : field + " = " + value;
    const std::string table =
        dir_.write("cell.toml", "extends = \"base.toml\"\n[" + section + "]\n" + line + "\n");
    const std::string optimizer = optimizer_for(field);
    const Config edited = config(table, optimizer), base = config(base_, optimizer);

    const std::string error = error_of([&] { resolve_parameterization(edited); });
    if (expect_rejection) {
      ASSERT_FALSE(error.empty()) << what << ": accepted, but the model cannot honour it";
      EXPECT_NE(error.find(role ? "role " + std::string(role_name(*role)) : "block"),
                std::string::npos)
          << error;
      EXPECT_NE(error.find("field " + field), std::string::npos) << error;
      const std::string bare = is_flag(field) ? "true" : "2.5";
      EXPECT_NE(error.find(bare), std::string::npos) << what << ": no value in '" << error << "'";
      EXPECT_EQ(error.find('\n'), std::string::npos) << error;
      ++rejected_;
      return;
    }
    ASSERT_TRUE(error.empty()) << what << ": rejected: " << error;
    ASSERT_NE(resolved(resolve_parameterization(edited), role),
              resolved(resolve_parameterization(base), role))
        << what << ": the edit did not change the resolved table (pick another value)";
    const std::vector<double> losses = train_losses(edited);
    EXPECT_NE(losses, baseline(optimizer))
        << what << ": `moet params` shows the new value but training is bit-identical";
    ++honoured_;
  }

  const std::vector<double>& baseline(const std::string& optimizer) {
    auto it = baselines_.find(optimizer);
    if (it == baselines_.end()) {
      const std::vector<double> once = train_losses(config(base_, optimizer));
      // The comparison means something only if the default run repeats bit for bit.
      EXPECT_EQ(once, train_losses(config(base_, optimizer))) << "training is not deterministic";
      it = baselines_.emplace(optimizer, once).first;
    }
    return it->second;
  }

  OneThread one_thread_;  // about 200 tiny trainings
  TempDir dir_;
  std::string base_;
  std::map<std::string, std::vector<double>> baselines_;
  int honoured_ = 0, rejected_ = 0;
};

TEST_P(CellEffect, EveryRoleCellChangesTrainingOrIsRejected) {
  const std::vector<TensorInfo> tensors = model_tensors(model_config_from(config(base_, "adam")));
  std::set<Role> present;
  for (const TensorInfo& t : tensors) present.insert(t.role);
  for (const Role role : all_roles()) {
    if (!present.count(role)) continue;
    for (const std::string& field : param::role_field_names())
      check_cell("roles", role, field, !honourable(field, role, tensors));
  }
  // Both kinds of outcome occur (the test cannot pass by rejecting, or accepting, everything).
  EXPECT_GT(honoured_, 0);
  EXPECT_GT(rejected_, 0);
  std::printf("%s: %zu roles, %d cells change training, %d are rejected\n", GetParam().name.c_str(),
              present.size(), honoured_, rejected_);
}

TEST_P(CellEffect, EveryBlockCellChangesTraining) {
  for (const std::string& field : param::block_field_names())
    check_cell("block", std::nullopt, field, false);
}

INSTANTIATE_TEST_SUITE_P(Param, CellEffect, ::testing::ValuesIn(architectures()),
                         [](const auto& info) { return info.param.name; });

// A rejected cell stops both commands that resolve a table, with exit status 2 and one line.
TEST(CellEffectCommands, ARejectedCellStopsParamsAndTrain) {
  TempDir dir;
  const std::string table = dir.write(
      "route_bias_eps.toml", "extends = \"mup\"\n[roles]\nroute_bias = { eps = \"2.5\" }\n");
  const std::string want = "role route_bias, field eps: route_bias is moved by the balancing rule "
                           "(balance.bias_lr), not by the optimizer, so it has no Adam epsilon "
                           "(eps = \"2.5\"); remove the cell\n";
  const std::string scratch = std::filesystem::path(table).parent_path().string();
  // One step, so that a table wrongly accepted fails fast instead of training for minutes.
  const std::string train = "train --set train.steps=1 --out " + scratch + "/run";
  for (const std::string& args :
       {"params --set param.preset=" + table, train + " --set param.preset=" + table}) {
    const CommandResult r = run_moet(args, scratch);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << args << ": " << r.err;
    EXPECT_TRUE(r.err.ends_with(want)) << args << ": " << r.err;
  }
}

// Between the architectures every role exists, so no role escapes the test above.
TEST(CellEffectCoverage, TheArchitecturesHaveEveryRole) {
  std::set<Role> present;
  for (const Architecture& a : architectures())
    for (const TensorInfo& t : model_tensors(model_config_from(make_config(a.sets))))
      present.insert(t.role);
  for (const Role role : all_roles()) EXPECT_TRUE(present.count(role)) << role_name(role);
}

}  // namespace
}  // namespace moet::testing
