// Ladder axes beyond the shape: the token budget (tokens), the batch (batch), a shape axis that
// shrinks as the scale grows (1/Ne, for granularity ladders) and K with M fixed; what each scale
// trains, what the parameterization sees, and the one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "param/resolve.h"
#include "param/run_horizon.h"
#include "sweep/run_shape.h"
#include "sweep/spec.h"
#include "sweep_fixture.h"
#include "train/schema.h"
#include "train/train_config.h"

namespace moet::sweep {
namespace {

using testing::expansion_error;

using param::Axis;
using LadderAxesTest = testing::SweepFixture;

bool has_set(const Trial& t, const std::string& assignment) {
  return std::find(t.sets.begin(), t.sets.end(), assignment) != t.sets.end();
}

Config config_of(const Trial& t) { return Config::load(full_config_schema(), "", t.sets); }

const std::string kGrid = "[grid]\nlr_log2 = [-7]\n[[preset]]\nname = \"completep-moe\"\n";

std::string ladder(const std::string& name, const std::string& axes, const std::string& scales,
                   const std::string& extra = "") {
  return "[[ladder]]\nname = \"" + name + "\"\naxes = " + axes + "\nscales = " + scales + "\n" +
         extra;
}

// scale -> the trial at that scale of ladder `name` (one LR, one seed).
std::map<double, const Trial*> by_scale(const Expansion& e, const std::string& name) {
  std::map<double, const Trial*> out;
  for (const Trial& t : e.trials)
    for (const LadderPoint& p : t.points)
      if (p.ladder == name) out[p.scale] = &t;
  return out;
}

TEST_F(LadderAxesTest, ATokensLadderScalesTheBudgetAtTheBaseBatch) {
  // The base: 12 steps of 4 x 16 = 768 tokens.
  const Expansion e =
      expand_sweep(parse_sweep_spec(tiny_config() + kGrid + ladder("width", "[\"N\"]", "[1, 2]") +
                                        ladder("horizon", "[\"tokens\"]", "[1, 2, 4]"),
                                    "spec.toml"));
  ASSERT_EQ(e.trials.size(), 4u) << "the base is shared with the width ladder";
  const auto at = by_scale(e, "horizon");
  ASSERT_EQ(at.size(), 3u);
  EXPECT_EQ(at.at(1)->points.size(), 2u);
  const int64_t steps[] = {12, 24, 48};
  int i = 0;
  for (const auto& [scale, trial] : at) {
    const Config c = config_of(*trial);
    EXPECT_EQ(c.get_int("train.steps"), steps[i++]) << trial->key;
    EXPECT_EQ(c.get_int("train.batch"), 4) << trial->key;
    EXPECT_EQ(c.get_int("model.N"), 16) << "a run axis changes no shape";
    EXPECT_EQ(trial->shape, e.base);
  }
  EXPECT_NE(at.at(4)->key.find("-L1-t3072-lr-7-"), std::string::npos) << at.at(4)->key;
  EXPECT_EQ(at.at(1)->key.find("-t"), std::string::npos) << at.at(1)->key;
  EXPECT_EQ(at.at(4)->points[0].axes, "tokens");
}

TEST_F(LadderAxesTest, ABatchLadderKeepsTheTokensAndBothTogetherKeepTheSteps) {
  const Expansion e =
      expand_sweep(parse_sweep_spec(tiny_config("", 0) + "[budget]\ntokens = 1536\n" + kGrid +
                                        ladder("batch", "[\"batch\"]", "[1, 2, 4]") +
                                        ladder("steps", "[\"tokens\", \"batch\"]", "[1, 2]"),
                                    "spec.toml"));
  const auto batch = by_scale(e, "batch");
  const int64_t batches[] = {4, 8, 16}, steps[] = {24, 12, 6};
  int i = 0;
  for (const auto& [scale, trial] : batch) {
    const Config c = config_of(*trial);
    EXPECT_EQ(c.get_int("train.batch"), batches[i]) << trial->key;
    EXPECT_EQ(c.get_int("train.steps"), steps[i++]) << trial->key;
  }
  EXPECT_NE(batch.at(4)->key.find("-L1-b16-lr"), std::string::npos) << batch.at(4)->key;
  const Config both = config_of(*by_scale(e, "steps").at(2));
  EXPECT_EQ(both.get_int("train.batch"), 8);
  EXPECT_EQ(both.get_int("train.steps"), 24) << "tokens and batch x2: the same steps";
  EXPECT_NE(by_scale(e, "steps").at(2)->key.find("-t3072-b8-"), std::string::npos);
}

// A ladder along tokens or batch pins the base run of the rules in D and B (param.base.tokens,
// .batch) as it pins the base shape, so complete-mue's LR moves by sqrt(B / D) along it; the base
// trial, whose run is its own base, stays the one the width ladder shares.
TEST_F(LadderAxesTest, RunLaddersSetTheBaseRunOfTheRulesInTokensAndBatch) {
  const std::string preset =
      "[grid]\nlr_log2 = [-7]\n[[preset]]\nname = \"complete-mue\"\n[preset.config]\n"
      "model.gate_renorm = true\n";
  const Expansion e = expand_sweep(parse_sweep_spec(
      tiny_config() + preset + ladder("width", "[\"N\"]", "[1, 2]") +
          ladder("horizon", "[\"tokens\"]", "[1, 4]") + ladder("batch", "[\"batch\"]", "[1, 2]"),
      "spec.toml"));
  ASSERT_EQ(e.trials.size(), 4u) << "one base trial for the three ladders";
  const Trial &base = *by_scale(e, "horizon").at(1), &longer = *by_scale(e, "horizon").at(4),
              &wider_batch = *by_scale(e, "batch").at(2), &wider = *by_scale(e, "width").at(2);
  EXPECT_TRUE(has_set(longer, "param.base.tokens=768")) << "12 steps of 4 x 16 tokens";
  EXPECT_FALSE(has_set(longer, "param.base.batch=64")) << "the same batch: absent";
  EXPECT_TRUE(has_set(wider_batch, "param.base.batch=64"));
  EXPECT_FALSE(has_set(wider_batch, "param.base.tokens=768")) << "the same budget: absent";
  for (const Trial* t : {&base, &wider})
    for (const std::string& set : t->sets)
      EXPECT_EQ(set.find("param.base.tokens"), std::string::npos);
  const auto router_lr = [](const Trial& t) {
    const param::Parameterization p = param::resolve_parameterization(config_of(t));
    for (size_t i = 0; i < p.tensors.size(); ++i)
      if (p.tensors[i].name == "blocks.0.moe.router") return p.hyper[i].lr;
    return 0.0;
  };
  EXPECT_DOUBLE_EQ(router_lr(longer) / router_lr(base), 0.5) << "sqrt(B / D) = sqrt(1 / 4)";
  // The rules count a run's tokens as the trainer and the sweep do.
  for (const Trial* t : {&base, &longer, &wider_batch}) {
    const Config c = config_of(*t);
    EXPECT_EQ(param::run_horizon_of(c).tokens, run_shape_of(c).tokens) << t->key;
    EXPECT_EQ(param::run_horizon_of(c).batch, train_config_from(c).tokens_per_step(16)) << t->key;
  }
  EXPECT_DOUBLE_EQ(router_lr(wider_batch) / router_lr(base), std::sqrt(2.0)) << "sqrt(2 / 1)";
}

TEST_F(LadderAxesTest, AGranularityLadderShrinksNeAndTheRulesSeeIt) {
  // Base M 4, K 2, Ne 16: M and K up, Ne down by the same factor (fixed active width K x Ne).
  const Expansion e = expand_sweep(parse_sweep_spec(
      tiny_config() + kGrid + ladder("granularity", "[\"M\", \"K\", \"1/Ne\"]", "[1, 2, 4]"),
      "spec.toml"));
  const auto at = by_scale(e, "granularity");
  ASSERT_EQ(at.size(), 3u);
  const Trial& x4 = *at.at(4);
  EXPECT_EQ(x4.shape[Axis::M], 16);
  EXPECT_EQ(x4.shape[Axis::K], 8);
  EXPECT_EQ(x4.shape[Axis::Ne], 4);
  EXPECT_EQ(x4.shape[Axis::N], 16);
  EXPECT_EQ(x4.points[0].axes, "M,K,1/Ne");
  EXPECT_TRUE(has_set(x4, "param.base.Ne=16"));
  // completep-moe's expert_down Adam LR is Ne^-1 x 1/16: a quarter of Ne is four times the LR.
  const auto expert_down_lr = [](const Trial& t) {
    const param::Parameterization p = param::resolve_parameterization(config_of(t));
    for (size_t i = 0; i < p.tensors.size(); ++i)
      if (p.tensors[i].name == "blocks.0.moe.expert_down") return p.hyper[i].lr;
    return 0.0;
  };
  const param::Parameterization p = param::resolve_parameterization(config_of(x4));
  EXPECT_EQ(p.target[Axis::Ne], 4);
  EXPECT_EQ(p.base[Axis::Ne], 16);
  EXPECT_DOUBLE_EQ(expert_down_lr(x4) / expert_down_lr(*at.at(1)), 4.0);
}

TEST_F(LadderAxesTest, AKLadderKeepsMAndStopsWhereKPassesM) {
  const Expansion e = expand_sweep(
      parse_sweep_spec(tiny_config() + kGrid + ladder("topk", "[\"K\"]", "[1, 2]"), "spec.toml"));
  const Trial& x2 = *by_scale(e, "topk").at(2);
  EXPECT_EQ(x2.shape[Axis::K], 4);
  EXPECT_EQ(x2.shape[Axis::M], 4);
  const std::string message =
      expansion_error(tiny_config() + kGrid + ladder("topk", "[\"K\"]", "[1, 2, 4]"));
  EXPECT_NE(message.find("ladder 'topk', preset 'completep-moe', scale 4"), std::string::npos)
      << message;
  EXPECT_NE(message.find("model.K"), std::string::npos) << message;
}

TEST_F(LadderAxesTest, RunAxesNeverChooseARegime) {
  const std::string mssp = "[grid]\nlr_log2 = [-7]\n[[preset]]\nname = \"mssp\"\n";
  const std::string message =
      expansion_error(tiny_config() + mssp + ladder("horizon", "[\"tokens\"]", "[1, 2]"));
  EXPECT_NE(message.find("ladder axes tokens change no width"), std::string::npos) << message;
  EXPECT_NE(message.find("set param.regime = I|II|III"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  const Expansion e = expand_sweep(parse_sweep_spec(
      tiny_config() + mssp +
          ladder("horizon", "[\"tokens\"]", "[1, 2]", "[ladder.config]\nparam.regime = \"II\"\n") +
          ladder("width", "[\"N\", \"Ne\", \"batch\"]", "[1, 2]"),
      "spec.toml"));
  for (const Trial& t : e.trials)
    EXPECT_TRUE(has_set(t, t.points[0].ladder == "horizon" ? "param.regime=II" : "param.regime=I"))
        << t.key << ": the width ladder's regime comes from N and Ne, not from its batch";
}

TEST_F(LadderAxesTest, BadRunAndInverseAxesAreOneLineNamingTheLadder) {
  const struct {
    std::string ladder, expected;
  } cases[] = {
      {ladder("w", "[\"1/tokens\"]", "[1, 2]"), "axes: '1/tokens' is not one of"},
      {ladder("w", "[\"steps\"]", "[1, 2]"), "axes: 'steps' is not one of N|Ne|M|K|L|tokens|batch"},
      {ladder("w", "[\"Ne\", \"1/Ne\"]", "[1, 2]"), "axes: Ne appears twice"},
      {ladder("w", "[\"tokens\", \"tokens\"]", "[1, 2]"), "axes: tokens appears twice"},
      {ladder("w", "[\"batch\"]", "[1, 1.1]"),
       "scale 1.1: train.batch = 4 x 1.1 is not a positive"},
      {ladder("w", "[\"M\", \"K\", \"1/Ne\"]", "[1, 3]"), "Ne = 16 / 3 is not a positive integer"},
      {ladder("w", "[\"tokens\"]", "[1, 0.01]"), "less than one step"},
  };
  for (const auto& c : cases) {
    const std::string message = expansion_error(tiny_config() + kGrid + c.ladder);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "expected '" << c.expected << "' in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.rfind("spec.toml", 0), 0u) << message;
  }
}

}  // namespace
}  // namespace moet::sweep
