// to_json / from_json: a checkpoint's stored parameterization reloads bit for bit, and a stored
// one that does not fit the model (or is incomplete) is an error, never a silent fallback.
#include <gtest/gtest.h>

#include "param_fixtures.h"

namespace moet::testing {
namespace {

using param::from_json;

ModelConfig model_for(const AxisValues& shape,
                      const std::map<std::string, std::string>& extra = {}) {
  std::map<std::string, std::string> sets = all_roles_model();
  for (const auto& [key, value] : extra) sets[key] = value;
  for (const Axis a : param::kAllAxes)
    sets[std::string("model.") + param::axis_name(a)] = std::to_string(shape[a]);
  return model_config_from(make_config(sets));
}

TEST(Json, RoundTripIsExactForEveryPreset) {
  const Ladder ladder = regime_ladder("III");
  for (const std::string preset : {"sp", "mup", "completep-moe", "mup-moe", "mssp"}) {
    for (const std::string optimizer : {"adam", "sgd"}) {
      SCOPED_TRACE(preset + " " + optimizer);
      const auto p = resolve_for(preset, optimizer, ladder.base, ladder.target,
                                 {{"optim.wd", "0.1"}, {"model.K", "6"}});
      const std::string stored = to_json(p).dump();
      const Parameterization back = from_json(nlohmann::json::parse(stored), model_for(p.target));
      EXPECT_EQ(to_json(back).dump(), stored);
      ASSERT_EQ(back.plan.tensors.size(), p.plan.tensors.size());
      for (size_t i = 0; i < p.tensors.size(); ++i) {
        EXPECT_EQ(back.plan.tensors[i].init_std, p.plan.tensors[i].init_std);
        EXPECT_EQ(back.plan.tensors[i].tied_across_experts, p.plan.tensors[i].tied_across_experts);
        EXPECT_EQ(back.hyper[i].lr, p.hyper[i].lr);
        EXPECT_EQ(back.hyper[i].eps, p.hyper[i].eps);
        EXPECT_EQ(back.hyper[i].wd, p.hyper[i].wd);
      }
      EXPECT_EQ(back.plan.block.attn_logit_scale, p.plan.block.attn_logit_scale);
      EXPECT_EQ(back.regime, p.regime);
      EXPECT_EQ(back.warnings, p.warnings);
    }
  }
}

// Muon runs store how each tensor moves; a resumed run must orthogonalise the same tensors.
TEST(Json, MuonRoundTripKeepsTheUpdateOfEveryTensor) {
  const Ladder ladder = regime_ladder("I");
  for (const std::string preset : {"mup", "mup-router-readout"}) {
    SCOPED_TRACE(preset);
    const std::map<std::string, std::string> swiglu = {{"model.act", "swiglu"}};
    auto p = resolve_for(preset, "muon", ladder.base, ladder.target, swiglu);
    p.hyper[size_t(first_tensor(p, Role::attn_o, true))].norm_preserved = true;
    const nlohmann::json stored = to_json(p);
    const Parameterization back = from_json(stored, model_for(p.target, swiglu));
    EXPECT_EQ(to_json(back), stored);
    for (size_t i = 0; i < p.tensors.size(); ++i) {
      EXPECT_EQ(back.hyper[i].orthogonalised, p.hyper[i].orthogonalised) << p.tensors[i].name;
      EXPECT_EQ(back.hyper[i].norm_preserved, p.hyper[i].norm_preserved) << p.tensors[i].name;
      EXPECT_EQ(back.hyper[i].column_blocks, p.hyper[i].column_blocks) << p.tensors[i].name;
    }
    nlohmann::json missing = stored;
    missing["tensors"][3].erase("update");
    EXPECT_EQ(error_of([&] { from_json(missing, model_for(p.target, swiglu)); }),
              "parameterization: tensors[3].update: missing");
  }
}

TEST(Json, HasTheDocumentedFields) {
  const auto j = to_json(resolve_for("mssp", "adam", kBase, kBase, {{"param.regime", "II"}}));
  for (const char* key : {"preset", "regime", "depth", "optimizer", "base", "target", "globals",
                          "block", "tensors", "warnings"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["preset"], "mssp");
  EXPECT_EQ(j["regime"], "II");
  EXPECT_EQ(j["base"]["N"], 64);
  for (const char* key :
       {"name", "role", "shape", "init", "init_std", "tied", "multiplier", "lr", "eps", "wd"})
    EXPECT_TRUE(j["tensors"][0].contains(key)) << key;
  EXPECT_EQ(j["tensors"][0]["name"], "embed");
}

TEST(Json, AStoredParameterizationThatDoesNotFitIsRejected) {
  const auto p = resolve_for("completep-moe", "adam", kBase, scaled(kBase, {Axis::N}, 2));
  const nlohmann::json stored = to_json(p);
  const std::string wrong_model =
      error_of([&] { from_json(stored, model_for(scaled(kBase, {Axis::N}, 4))); });
  EXPECT_EQ(wrong_model,
            "parameterization: target: stored for N 128 Ne 64 M 8 K 2 L 2, but the model has N "
            "256 Ne 64 M 8 K 2 L 2");

  nlohmann::json missing = stored;
  missing["tensors"][3].erase("lr");
  EXPECT_EQ(error_of([&] { from_json(missing, model_for(p.target)); }),
            "parameterization: tensors[3].lr: missing");

  nlohmann::json renamed = stored;
  renamed["tensors"][1]["name"] = "pos";
  EXPECT_NE(error_of([&] {
              from_json(renamed, model_for(p.target));
            }).find("tensors[1].name: stored pos"),
            std::string::npos);

  nlohmann::json bad_init = stored;
  bad_init["tensors"][0]["init"] = "uniform";
  EXPECT_EQ(error_of([&] { from_json(bad_init, model_for(p.target)); }),
            "parameterization: tensors[0].init: 'uniform' is not one of normal|zero|one");

  nlohmann::json wrong_type = stored;
  wrong_type["globals"]["lr"] = "fast";
  EXPECT_EQ(error_of([&] { from_json(wrong_type, model_for(p.target)); }),
            "parameterization: globals.lr: wrong type (string)");

  EXPECT_EQ(error_of([&] { from_json(nlohmann::json::object(), model_for(p.target)); }),
            "parameterization: format: missing");
}

}  // namespace
}  // namespace moet::testing
