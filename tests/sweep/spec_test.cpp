// Sweep specs: expansion into trials (counts, shared base trials, base pinning, budgets, regimes,
// identity), and one-line errors naming what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "sweep/local_sweep.h"
#include "sweep/resources.h"
#include "sweep/spec.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using testing::expansion_error;

using testing::SweepFixture;
using SpecTest = SweepFixture;

bool has_set(const Trial& t, const std::string& assignment) {
  return std::find(t.sets.begin(), t.sets.end(), assignment) != t.sets.end();
}

TEST_F(SpecTest, ExpandsEveryPresetLadderScaleLrAndSeedOnceSharingTheBase) {
  const std::string text = tiny_config("", 0) + R"(
[budget]
tokens = 640
[grid]
lr_log2 = { from = -8, to = -6 }
seeds = [1, 2]
[[preset]]
name = "sp"
[[preset]]
name = "completep-moe"
lr_log2 = [-5, -4]
[[ladder]]
name = "width"
axes = ["N", "Ne"]
scales = [1, 2, 4]
[[ladder]]
name = "experts"
axes = ["M", "K"]
scales = [1, 2]
)";
  const SweepSpec spec = parse_sweep_spec(text, "spec.toml");
  const Expansion e = expand_sweep(spec);
  // Per preset: (3 + 2 scales - 1 shared base) x LRs x 2 seeds.
  EXPECT_EQ(e.trials.size(), size_t(4 * 3 * 2 + 4 * 2 * 2));
  std::set<std::string> keys;
  int shared = 0;
  for (size_t i = 0; i < e.trials.size(); ++i) {
    const Trial& t = e.trials[i];
    EXPECT_EQ(t.index, int64_t(i));
    EXPECT_TRUE(keys.insert(t.key).second) << t.key;
    EXPECT_TRUE(has_set(t, "param.base.N=16")) << t.key;
    EXPECT_TRUE(has_set(t, "param.base.M=4")) << t.key;
    EXPECT_TRUE(has_set(t, "train.steps=10")) << "640 tokens / (4 x 16) per step";
    EXPECT_TRUE(has_set(t, "train.save=false"));
    EXPECT_TRUE(has_set(t, fmt::format("train.seed={}", t.seed)));
    EXPECT_TRUE(has_set(t, fmt::format("optim.lr={}", t.lr)));
    if (t.points.size() == 2) {
      ++shared;
      EXPECT_EQ(t.points[0].scale, 1);
      EXPECT_EQ(t.points[1].scale, 1);
    }
    for (const LadderPoint& p : t.points) {
      if (p.ladder == "width") {
        EXPECT_EQ(t.shape[param::Axis::N], int64_t(16 * p.scale));
        EXPECT_EQ(t.shape[param::Axis::Ne], int64_t(16 * p.scale));
        EXPECT_EQ(t.shape[param::Axis::M], 4);
        EXPECT_EQ(p.axes, "N,Ne");
      } else {
        EXPECT_EQ(t.shape[param::Axis::M], int64_t(4 * p.scale));
        EXPECT_EQ(t.shape[param::Axis::K], int64_t(2 * p.scale)) << "K/M fixed";
      }
    }
    if (t.preset == "completep-moe") {
      EXPECT_GE(t.lr, std::exp2(-5) - 1e-15);
    }
  }
  EXPECT_EQ(shared, 3 * 2 + 2 * 2) << "every base trial stands on both ladders";
  // Same spec, same trials; another fixed setting, other trials.
  EXPECT_EQ(expand_sweep(spec).hash, e.hash);
  const Expansion other = expand_sweep(parse_sweep_spec(text + "", "spec.toml"));
  EXPECT_EQ(other.trials.front().key, e.trials.front().key);
  std::string changed = text;
  changed.replace(changed.find("model.L = 1"), 11, "model.L = 2");
  const Expansion deeper = expand_sweep(parse_sweep_spec(changed, "spec.toml"));
  EXPECT_NE(deeper.hash, e.hash);
  EXPECT_NE(deeper.trials.front().key, e.trials.front().key);
}

// Extra seeds where they count (the base and the largest scale) without paying for them at every
// scale: a ladder's own seeds replace [grid] seeds; its trials that another ladder already has
// (same config, same seed) are trained once.
TEST_F(SpecTest, ALadderCanHaveItsOwnSeeds) {
  const std::string ladders = R"(
[[preset]]
name = "sp"
[[ladder]]
name = "width"
axes = ["N", "Ne"]
scales = [1, 2, 4]
[[ladder]]
name = "width-seeds"
axes = ["N", "Ne"]
scales = [1, 4]
seeds = [1, 2, 3]
)";
  const Expansion e = expand_sweep(parse_sweep_spec(
      tiny_config("", 0) + "[budget]\ntokens = 640\n[grid]\nlr_log2 = [-8, -7]\n" + ladders,
      "spec.toml"));
  // width: 3 scales x 2 LRs, seed 1; width-seeds adds seeds 2 and 3 at scales 1 and 4.
  EXPECT_EQ(e.trials.size(), size_t(3 * 2 + 2 * 2 * 2));
  std::map<std::string, std::set<int64_t>> seeds_by_ladder;
  for (const Trial& t : e.trials)
    for (const LadderPoint& p : t.points) seeds_by_ladder[p.ladder].insert(t.seed);
  EXPECT_EQ(seeds_by_ladder["width"], (std::set<int64_t>{1}));
  EXPECT_EQ(seeds_by_ladder["width-seeds"], (std::set<int64_t>{1, 2, 3}));
  const SweepSpec with_stds = parse_sweep_spec(
      tiny_config("", 0) + "[grid]\nlr_log2 = [-8, -7]\ninit_std = [0.01, 0.02, 0.04]\n" + ladders,
      "spec.toml");
  // 3 init stds x (3 x 2 + 2 x 2 x 2) trials; 3 x (5 x 2 + 2 x 2 x 2) ladder points.
  EXPECT_EQ(describe_sweep(with_stds, expand_sweep(with_stds)),
            "1 preset x 2 ladders x 2-3 scales x 3 init stds x 2 LRs x 1-3 seeds = 42 trials "
            "(54 ladder points; ladders share base trials)");
  EXPECT_NE(expansion_error(tiny_config("", 0) + R"(
[[preset]]
name = "sp"
lr = [0.01]
[[ladder]]
name = "width"
axes = ["N"]
scales = [1, 2]
seeds = [1, 1]
)")
                .find("ladder 'width': seeds: 1 appears twice"),
            std::string::npos);
}

TEST_F(SpecTest, RegimePresetsGetTheLadderRegimeAndInitStdCanBeSwept) {
  const Expansion e = expand_sweep(parse_sweep_spec(tiny_config() + R"(
[grid]
lr = [0.01]
init_std_log2 = [-1, 0]
[[preset]]
name = "mssp"
[[ladder]]
name = "w"
axes = ["N", "Ne"]
scales = [1, 2]
[[ladder]]
name = "r2"
axes = ["N", "M", "K"]
scales = [1, 2]
)",
                                                    "spec.toml"));
  ASSERT_EQ(e.trials.size(), size_t(2 * 2 * 2)) << "regime I and II bases differ: no sharing";
  for (const Trial& t : e.trials) {
    EXPECT_TRUE(has_set(t, t.points[0].ladder == "w" ? "param.regime=I" : "param.regime=II"));
    EXPECT_TRUE(has_set(t, fmt::format("param.init_std={}", t.init_std)));
    EXPECT_TRUE(t.init_std == 0.5 || t.init_std == 1.0);
  }
}

TEST_F(SpecTest, ErrorsNameTheSpecAndTheField) {
  const std::string ladder = "[[ladder]]\nname = \"w\"\naxes = [\"N\"]\nscales = [1, 2]\n";
  const std::string preset = "[[preset]]\nname = \"sp\"\n";
  const std::string grid = "[grid]\nlr_log2 = [-7]\n";
  const struct {
    std::string text, expected;
  } cases[] = {
      {tiny_config() + grid + preset + ladder + "colour = 1\n", "unknown key 'colour'"},
      {tiny_config("model.Nx = 3\n") + grid + preset + ladder, "did you mean 'model.N'"},
      {tiny_config() + grid + preset + "[[ladder]]\nname = \"w\"\naxes = [\"W\"]\nscales = [1]\n",
       "'W' is not one of N|Ne|M|K|L"},
      {tiny_config() + grid + preset + "[[ladder]]\nname = \"w\"\naxes = [\"N\"]\nscales = [1.3]\n",
       "is not a positive integer"},
      {tiny_config() + preset + ladder, "no LR grid"},
      {tiny_config() + "[grid]\nlr = [0.1]\nlr_log2 = [-3]\n" + preset + ladder, "not both"},
      {tiny_config() + grid + preset + preset + ladder, "named twice"},
      {tiny_config() + grid + ladder, "no [[preset]]"},
      {tiny_config() + grid + preset, "no [[ladder]]"},
      {tiny_config() + "[grid]\nlr_log2 = { from = -3, to = -7 }\n" + preset + ladder,
       "is below from"},
      {tiny_config() + grid + "[[preset]]\nname = \"nosuch\"\n" + ladder, "param.preset"},
      {tiny_config() + grid + "[[preset]]\nname = \"mssp\"\n" +
           "[[ladder]]\nname = \"w\"\naxes = [\"M\", \"K\"]\nscales = [1, 2]\n",
       "param.regime"},
      {tiny_config("", 0) + "[budget]\ntokens = 3\n" + grid + preset + ladder,
       "less than one step"},
      {tiny_config() + "[budget]\ntokens = 640\n" + grid + preset + ladder,
       "[config] also sets train.steps"},
      {"[config\n", "invalid TOML"},
  };
  for (const auto& c : cases) {
    const std::string message = expansion_error(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "expected '" << c.expected << "' in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
    EXPECT_EQ(message.rfind("spec.toml", 0), 0u) << "names the spec: " << message;
  }
}

TEST_F(SpecTest, LogRangesIncludeBothEndsAndHalfSteps) {
  const SweepSpec spec = parse_sweep_spec(tiny_config() + R"(
[grid]
lr_log2 = { from = -8, to = -6, step = 0.5 }
[[preset]]
name = "sp"
[[ladder]]
name = "w"
axes = ["N"]
scales = [2, 1]
)",
                                          "spec.toml");
  ASSERT_EQ(spec.lrs.size(), 5u);
  EXPECT_DOUBLE_EQ(spec.lrs.front(), std::exp2(-8));
  EXPECT_DOUBLE_EQ(spec.lrs[1], std::exp2(-7.5));
  EXPECT_DOUBLE_EQ(spec.lrs.back(), std::exp2(-6));
  EXPECT_EQ(spec.ladders[0].scales, (std::vector<double>{1, 2})) << "sorted";
}

TEST(TrialCommand, IsOneSelfContainedTrainCommandQuotedForTheShell) {
  Trial t;
  t.sets = {"model.N=32", "data.train=/a b/it's.bin"};
  const auto argv = trial_command(t, "runs/x", 2);
  EXPECT_EQ(argv,
            (std::vector<std::string>{"train", "--quiet", "--out", "runs/x", "--set", "model.N=32",
                                      "data.train=/a b/it's.bin", "train.threads=2"}));
  EXPECT_EQ(shell_quote(argv),
            "train --quiet --out runs/x --set model.N=32 'data.train=/a b/it'\\''s.bin' "
            "train.threads=2");
}

TEST(WorkerPlan, DividesTheCoresWithoutOversubscribing) {
  WorkerPlan p = plan_workers(2, 42, 0, 0, 0);
  EXPECT_EQ(p.workers, 2);
  EXPECT_EQ(p.threads, 1);
  p = plan_workers(8, 3, 0, 0, 0);
  EXPECT_EQ(p.workers, 3) << "fewer trials than cores";
  EXPECT_EQ(p.threads, 2);
  p = plan_workers(8, 100, 0, 4, 0);
  EXPECT_EQ(p.workers, 2);
  p = plan_workers(8, 100, 0, 0, 2);
  EXPECT_EQ(p.workers, 4) << "train.threads from the spec";
  p = plan_workers(8, 100, 3, 0, 0);
  EXPECT_EQ(p.threads, 2);
  EXPECT_THROW(plan_workers(2, 10, 2, 2, 0), Error);
  EXPECT_THROW(plan_workers(2, 10, 3, 0, 0), Error);
  EXPECT_THROW(plan_workers(2, 10, 0, 4, 0), Error);
}

}  // namespace
}  // namespace moet::sweep
