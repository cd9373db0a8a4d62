// Token and batch ladders in the report and in `moet transfer`: the power law of the optimum,
// the LR predicted at a target's token budget and batch with its band, and how far a target lies
// beyond the ladders (warned past one doubling), from a synthetic database with known optima.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../support/run_binary.h"
#include "analysis/transfer_report.h"
#include "core/config.h"
#include "core/files.h"
#include "param/resolve.h"
#include "report_fixture.h"
#include "train/schema.h"

namespace moet::analysis {
namespace {

class HorizonTest : public testing::ReportFixture {
 protected:
  // The optimal log2 LR of each ladder point: width keeps -6; along tokens the optima of the
  // hand-computed case of power_law_test.cpp shifted by -1 (slope 0.51, intercept -6.04, x16
  // predicted at -4.00 ± 1.04); along batch -6, -5.4, -5.1 (slope 0.45, s.e. 0.0866).
  static double optimum_at(const sweep::LadderPoint& p) {
    if (p.scale == 1) return -6;
    if (p.ladder == "horizon") return p.scale == 2 ? -5.5 : p.scale == 4 ? -5.2 : -4.4;
    if (p.ladder == "batch") return p.scale == 2 ? -5.4 : -5.1;
    return -6;
  }

  // Base: 12 steps of 4 x 16 = 768 tokens, batch 4, N 16.
  // without_base_runs: the trials as a sweep stored them before the ladders pinned the base run of
  // the rules in D and B (param.base.tokens, .batch).
  std::string make_horizon_database(const std::string& preset = "completep-moe",
                                    const std::string& preset_config = "",
                                    bool without_base_runs = false) {
    const std::string text = tiny_config() + R"(
[grid]
lr_log2 = { from = -10, to = -1 }
[[preset]]
name = ")" + preset + "\"\n" +
                             preset_config + R"(
[[ladder]]
name = "width"
axes = ["N", "Ne"]
scales = [1, 2, 4]
[[ladder]]
name = "horizon"
axes = ["tokens"]
scales = [1, 2, 4, 8]
[[ladder]]
name = "batch"
axes = ["batch"]
scales = [1, 2, 4]
)";
    const sweep::SweepSpec spec = sweep::load_sweep_spec(write_spec("horizon.toml", text));
    sweep::Expansion expansion = sweep::expand_sweep(spec);
    if (without_base_runs)
      for (sweep::Trial& t : expansion.trials) {
        std::erase_if(t.sets, [](const std::string& set) {
          return set.rfind("param.base.t", 0) == 0 || set.rfind("param.base.b", 0) == 0;
        });
        t.config_toml = Config::load(full_config_schema(), "", t.sets).to_toml();
      }
    const std::string db = path(preset + (without_base_runs ? "-old" : "") + ".sqlite");
    sweep::ResultsStore store = sweep::ResultsStore::open(db, sweep::JournalMode::wal);
    store.register_sweep(spec, expansion);
    for (const sweep::Trial& t : expansion.trials) {
      const sweep::LadderPoint& p = t.points.front();
      const double d = std::log2(t.lr) - optimum_at(p);
      sweep::TrialOutcome o;
      o.status = RunStatus::done;
      o.steps = 12;
      o.seconds = 1;
      o.val_loss = 3.0 - 0.1 * std::log2(p.scale) + 0.04 * d * d;
      o.train_loss = o.val_loss;
      store.record(t.key, o);
    }
    return db;
  }

  testing::CommandResult transfer(const std::string& db, const std::string& target,
                                  const std::string& extra) {
    write_file_atomic(path("target.toml"), target);
    return testing::run_moet("transfer --db " + db + " --target " + path("target.toml") +
                                 " --out " + path("target.transfer.toml") + " " + extra,
                             dir_.string());
  }

  bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }
};

TEST_F(HorizonTest, TheReportFitsThePowerLawOfTheOptimumAlongTokensAndBatch) {
  const std::string db = make_horizon_database();
  const auto store = sweep::ResultsStore::open_read_only(db);
  const ReportFiles files = write_transfer_report(store, path("report"), ReportOptions{});
  ASSERT_EQ(files.trends.size(), 2u) << "horizon and batch, not width";
  EXPECT_EQ(files.trends[0],
            "completep-moe / horizon: optimum against tokens: lr* ∝ tokens^+0.510 (±0.069 s.e.), "
            "log2 lr* = -6.04 +0.510 log2(x); residuals (octaves) +0.04 at x1, +0.03 at x2, -0.18 "
            "at x4, +0.11 at x8");
  EXPECT_TRUE(has(files.trends[1], "optimum against batch: lr* ∝ batch^+0.450 (±0.087 s.e.)"))
      << files.trends[1];
  const auto summary = nlohmann::json::parse(read_file(files.json_path));
  for (const auto& panel : summary["panels"]) {
    if (panel["ladder"] == "width") {
      EXPECT_FALSE(panel.contains("power_law"));
    } else if (panel["ladder"] == "horizon") {
      EXPECT_NEAR(panel["power_law"]["slope"].get<double>(), 0.51, 1e-9);
      EXPECT_NEAR(panel["power_law"]["intercept_log2_lr"].get<double>(), -6.04, 1e-9);
      EXPECT_EQ(panel["scales"][3]["shape"], "tokens=6144");
      EXPECT_NEAR(panel["excursion_octaves"].get<double>(), 1.6, 1e-9) << "the drift, as ever";
    }
  }
  EXPECT_TRUE(has(read_file(files.html_path), "optimum against tokens: lr* ∝ tokens^+0.510"));
}

TEST_F(HorizonTest, TransferPredictsTheLrAtATargetTokenBudgetWithItsBand) {
  const std::string db = make_horizon_database();
  auto r = transfer(db, "[model]\nN = 16\n", "--target-tokens 12288");  // x16
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "target tokens x16: log2 lr* = -4.00 (±1.04 octaves, 95% prediction "
                         "band 2^-5.04 to 2^-2.96)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "residuals (octaves) +0.04 at x1")) << r.out;
  EXPECT_TRUE(has(r.out, "tokens  x16: 1.0 doubling beyond ladder horizon (x1 to x8)")) << r.out;
  EXPECT_FALSE(has(r.out, "warning:")) << "one doubling beyond warns not\n" << r.out;
  const Config written = Config::load(full_config_schema(), path("target.transfer.toml"), {});
  EXPECT_EQ(written.get_float("optim.lr"), 0.0625) << "2^-4";
  EXPECT_EQ(written.get_int("train.steps"), 192) << "12288 tokens / 64 per step";
  EXPECT_TRUE(has(read_file(path("target.transfer.toml")),
                  "# optim.lr = 2^-4.00: the power law in tokens of ladder horizon at x16 (±1.04 "
                  "octaves, 95%); the optimum of preset completep-moe at the base"));

  // x32 is two doublings beyond x8: said on the screen and in the config.
  r = transfer(db, "[model]\nN = 16\n", "--target-tokens 24576");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string warning =
      "along tokens the target (x32) lies 2.0 doublings beyond the largest rung checked (ladder "
      "horizon, x8): the LR is extrapolated, not checked";
  EXPECT_TRUE(has(r.out, "warning: " + warning)) << r.out;
  EXPECT_TRUE(has(read_file(path("target.transfer.toml")), "# warning: " + warning));

  // Tokens and batch together: the batch law's slope on the token law's value.
  r = transfer(db, "[model]\nN = 16\n", "--target-tokens 12288 --target-batch 8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "target tokens x16, batch x2: log2 lr* = -3.55 (±1.52 octaves")) << r.out;
  const Config both = Config::load(full_config_schema(), path("target.transfer.toml"), {});
  EXPECT_EQ(both.get_int("train.batch"), 8);
  EXPECT_EQ(both.get_int("train.steps"), 96) << "12288 tokens / (8 x 16)";
}

TEST_F(HorizonTest, TransferSaysHowFarBeyondTheLaddersATargetLies) {
  const std::string db = make_horizon_database();
  // Width ladder x1..x4 of N 16: N 128 is one doubling beyond, N 256 two.
  auto r = transfer(db, "[model]\nN = 128\nNe = 128\n", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "N       x8: 1.0 doubling beyond ladder width (x1 to x4)")) << r.out;
  EXPECT_FALSE(has(r.out, "warning:")) << r.out;

  r = transfer(db, "[model]\nN = 256\nNe = 256\nL = 2\n", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "N       x16: 2.0 doublings beyond ladder width (x1 to x4)")) << r.out;
  EXPECT_TRUE(has(r.out, "warning: along N the target (x16) lies 2.0 doublings beyond the largest "
                         "rung checked (ladder width, x4)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "warning: along Ne the target (x16)")) << r.out;
  EXPECT_TRUE(has(r.out, "L       x2: no ladder scales L")) << r.out;
  EXPECT_TRUE(has(r.out, "warning: the target differs from the base along L (x2), which no ladder"))
      << r.out;
  // A longer run without --target-tokens keeps the base's LR and is told where a better one is.
  r = transfer(db, "[train]\nsteps = 48\n", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "tokens  x4: within ladder horizon (x1 to x8)")) << r.out;
  EXPECT_TRUE(has(r.out, "note: the target trains on 3072 tokens (x4 the base's) at the base's "
                         "optimal LR; --target-tokens 3072 reads the LR off the power law of "
                         "ladder horizon instead"))
      << r.out;
  // A target inside the ladders says so and warns of nothing.
  r = transfer(db, "[model]\nN = 32\nNe = 32\n[train]\nbatch = 16\nsteps = 3\n", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "N       x2: within ladder width (x1 to x4)")) << r.out;
  EXPECT_TRUE(has(r.out, "batch   x4: within ladder batch (x1 to x4)")) << r.out;
  EXPECT_FALSE(has(r.out, "warning:")) << r.out;
}

// complete-mue scales its LR with sqrt(B / D) itself. A horizon ladder whose trials ran that rule
// fitted the global LR on top of it: the prediction sets optim.lr and the rule still scales it
// from the base run. One whose trials ran without it (a database from before the ladders pinned
// the base run) fitted the whole change: the rule is held at 1. Without --target-tokens the rule
// alone moves the base's optimum. Each is said on the screen and in the config; a preset without
// such rules writes neither the keys nor the lines.
TEST_F(HorizonTest, TransferNeverCountsThePresetsOwnHorizonRuleTwice) {
  const std::string renorm = "[preset.config]\nmodel.gate_renorm = true\n";
  const auto router_lr = [&](const Config& c) {
    const param::Parameterization p = param::resolve_parameterization(c);
    for (size_t i = 0; i < p.tensors.size(); ++i)
      if (p.tensors[i].name == "blocks.0.moe.router") return p.hyper[i].lr;
    return 0.0;
  };
  const auto written = [&] {
    return Config::load(full_config_schema(), path("target.transfer.toml"), {});
  };

  const std::string db = make_horizon_database("complete-mue", renorm);
  auto r = transfer(db, "[model]\nN = 16\n", "--target-tokens 12288");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "tokens: ladder horizon ran the preset's rule in D, so its power law is "
                         "of eta alone: the prediction sets eta and the rule scales it (D = 16; "
                         "param.base.tokens = 768)"))
      << r.out;
  EXPECT_TRUE(has(read_file(path("target.transfer.toml")), "# run rule: tokens: ladder horizon"));
  Config c = written();
  EXPECT_EQ(c.get_float("optim.lr"), 0.0625);
  EXPECT_EQ(c.get_int("param.base.tokens"), 768);
  EXPECT_EQ(c.get_int("param.base.batch"), 64);
  EXPECT_DOUBLE_EQ(router_lr(c), 0.0625 * 0.25) << "2^-4 x sqrt(1 / 16)";

  r = transfer(make_horizon_database("complete-mue", renorm, true), "[model]\nN = 16\n",
               "--target-tokens 12288");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "tokens: ladder horizon ran without the preset's rule in D, so its power "
                         "law holds the whole change: the rule is held at D = 1 "
                         "(param.base.tokens = the target's 12288)"))
      << r.out;
  c = written();
  EXPECT_EQ(c.get_int("param.base.tokens"), 12288);
  EXPECT_DOUBLE_EQ(router_lr(c), 0.0625) << "the prediction alone";

  r = transfer(db, "[model]\nN = 16\n[train]\nsteps = 48\n", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "tokens: the preset's rule in D scales the base's optimum from the base "
                         "run's 768 to the target's 3072 (D = 4; param.base.tokens = 768)"))
      << r.out;
  c = written();
  EXPECT_DOUBLE_EQ(router_lr(c), c.get_float("optim.lr") * 0.5);

  r = transfer(make_horizon_database(), "[model]\nN = 16\n", "--target-tokens 12288");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(has(r.out, "rules in the token budget")) << r.out;
  EXPECT_FALSE(has(read_file(path("target.transfer.toml")), "base.tokens")) << "completep-moe";
}

TEST_F(HorizonTest, BadRunTargetsAreOneLine) {
  const std::string horizon = make_horizon_database();
  const std::string width_only = make_database();
  const struct {
    std::string db, target, extra, expected;
  } cases[] = {
      {width_only, "[model]\nN = 16\n", "--preset completep-moe --target-tokens 4096",
       "--target-tokens: no ladder of preset completep-moe scales tokens alone"},
      {horizon, "[train]\nsteps = 10\n", "--target-tokens 4096",
       "--target-tokens: the target config sets train.steps too"},
      {horizon, "[model]\nN = 16\n", "--target-tokens 0", "--target-tokens: must be positive"},
      {horizon, "[model]\nN = 16\n", "--target-batch=-2", "--target-batch: must be positive"},
      {horizon, "[model]\nN = 16\n", "--target-tokens 10", "is less than one step"},
  };
  for (const auto& c : cases) {
    const auto r = transfer(c.db, c.target, c.extra);
    EXPECT_EQ(r.exit_code, 2) << c.extra << "\n" << r.out;
    EXPECT_EQ(testing::count_lines(r.err), 1) << c.extra << "\n" << r.err;
    EXPECT_TRUE(has(r.err, c.expected)) << c.expected << " in " << r.err;
  }
}

}  // namespace
}  // namespace moet::analysis
