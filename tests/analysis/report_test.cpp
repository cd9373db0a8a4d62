// The transfer report and `moet transfer` from a small synthetic database: panels, optima,
// diverged and unfinished trials, verdicts, the JSON summary, the written target config, and
// one-line errors for bad input.
#include <gtest/gtest.h>

#include <regex>

#include "../support/run_binary.h"
#include "analysis/sweep_panels.h"
#include "analysis/transfer_report.h"
#include "core/error.h"
#include "report_fixture.h"
#include "train/schema.h"

namespace moet::analysis {
namespace {

using ReportTest = testing::ReportFixture;

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(ReportTest, PanelsFoldSeedsAndKeepDivergedFailedAndPendingApart) {
  const auto store = sweep::ResultsStore::open_read_only(make_database());
  const auto panels = build_panels(store.current_trials(), "val");
  ASSERT_EQ(panels.size(), 2u);
  EXPECT_EQ(panels[0].preset, "sp");
  EXPECT_EQ(panels[1].preset, "completep-moe");
  EXPECT_EQ(panels[0].failed, 1);
  EXPECT_EQ(panels[0].unfinished, 1);
  const ScaleCurve& base = panels[0].curves[0];
  ASSERT_EQ(base.points.size(), 8u);
  EXPECT_EQ(base.shape, "N=16 Ne=16");
  EXPECT_EQ(base.points[0].seeds, 1) << "2^-10 seed 2 never ran";
  const LrPoint& p = base.points[4];  // 2^-6
  EXPECT_EQ(p.seeds, 2);
  EXPECT_NEAR(p.mean, 3.003, 1e-12);
  EXPECT_NEAR(p.min, 3.002, 1e-12);
  EXPECT_NEAR(p.max, 3.004, 1e-12);
  EXPECT_TRUE(base.points.back().is_diverged());
  EXPECT_EQ(panels[0].curves[2].shape, "N=64 Ne=64");
  EXPECT_THROW(build_panels(store.current_trials(), "nosuch"), Error);
  EXPECT_NEAR(build_panels(store.current_trials(), "moby")[1].curves[0].points[4].mean, 3.303,
              1e-12);
}

TEST_F(ReportTest, WritesAnHtmlPageWithEveryPlotAndAJsonSummary) {
  const auto store = sweep::ResultsStore::open_read_only(make_database());
  const ReportFiles files = write_transfer_report(store, path("report"), ReportOptions{});
  ASSERT_EQ(files.verdicts.size(), 2u);
  EXPECT_EQ(files.verdicts[0].rfind("sp / width: optimum drifts -2.00 octaves over 4x (-1.00 per "
                                    "doubling): does not transfer",
                                    0),
            0u)
      << files.verdicts[0];
  EXPECT_EQ(files.verdicts[1],
            "completep-moe / width: optimum drifts +0.00 octaves over 4x (+0.00 per doubling): "
            "transfers (within ±0.5 per doubling); larger is better at every step");

  const std::string html = read_file(files.html_path);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(occurrences(html, "<svg class=\"plot lr-plot\""), 2u);
  EXPECT_EQ(occurrences(html, "<svg class=\"plot scale-plot\""), 2u);
  EXPECT_EQ(occurrences(html, "<svg class=\"plot step-plot\""), 2u);
  EXPECT_EQ(occurrences(html, "<g class=\"optimum\""), 6u);
  EXPECT_EQ(occurrences(html, "<g class=\"diverged\""), 6u);
  EXPECT_EQ(occurrences(html, "</svg>"), 6u);
  EXPECT_NE(html.find("1 trials failed"), std::string::npos);
  EXPECT_NE(html.find("1 trials not finished yet"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "no scripts";
  EXPECT_EQ(html.find("http://www.w3.org/2000/svg") == std::string::npos, false);
  EXPECT_EQ(std::regex_search(html, std::regex("(src|href)=\"https?:")), false)
      << "nothing loads from the network";

  // Each panel's two main figures also stand alone, titled with their panel.
  ASSERT_EQ(files.svg_paths.size(), 4u);
  EXPECT_EQ(files.svg_paths[0], path("report") + "/plots/sp-width.lr.svg");
  EXPECT_EQ(files.svg_paths[3], path("report") + "/plots/completep-moe-width.scale.svg");
  for (const std::string& svg_path : files.svg_paths) {
    const std::string svg = read_file(svg_path);
    EXPECT_EQ(svg.rfind("<svg ", 0), 0u) << svg_path;
    EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos) << svg_path;
    EXPECT_EQ(occurrences(svg, "</svg>"), 1u) << svg_path;
    EXPECT_NE(html.find(svg.substr(svg.find("<g class=\"series\""), 200)), std::string::npos)
        << "the same figure as the page's: " << svg_path;
  }
  EXPECT_NE(read_file(files.svg_paths[0]).find(">sp / width: loss against learning rate<"),
            std::string::npos);

  const auto json = nlohmann::json::parse(read_file(files.json_path));
  ASSERT_EQ(json["panels"].size(), 2u);
  const auto& sp = json["panels"][0];
  EXPECT_EQ(sp["preset"], "sp");
  EXPECT_NEAR(sp["drift_octaves"].get<double>(), -2.0, 1e-9);
  EXPECT_EQ(sp["transfers"], false);
  EXPECT_EQ(sp["larger_is_better_at_base_lr"], "no");
  EXPECT_EQ(sp["larger_is_better_at_optimum"], "yes");
  EXPECT_NEAR(sp["scales"][1]["optimum"]["log2_lr"].get<double>(), -7.0, 1e-9);
  EXPECT_EQ(sp["scales"][1]["optimum"]["kind"], "fit");
  EXPECT_TRUE(sp["scales"][0]["points"][7]["mean"].is_null()) << "diverged: no loss";
  EXPECT_EQ(sp["scales"][0]["points"][7]["diverged"], 2);
  // Two seeds: each has its own optimum (the seed only shifts the loss), and their range at the
  // base-optimal LR is the seed offset.
  ASSERT_EQ(sp["scales"][1]["seed_optima"].size(), 2u);
  EXPECT_EQ(sp["scales"][1]["seed_optima"][1]["seed"], 2);
  EXPECT_NEAR(sp["scales"][1]["seed_optima"][1]["log2_lr"].get<double>(), -7.0, 1e-9);
  EXPECT_NEAR(sp["scales"][0]["seed_range_at_base_lr"].get<double>(), 0.002, 1e-9);
  const auto& stable = json["panels"][1];
  EXPECT_EQ(stable["transfers"], true);
  EXPECT_NEAR(stable["base_optimal_log2_lr"].get<double>(), -6, 1e-9);
  EXPECT_EQ(json["trials"]["failed"], 1);
  EXPECT_EQ(json["trials"]["unfinished"], 1);
  EXPECT_EQ(json["base_shape"]["N"], 16);
}

// A sweep that crossed init std with the LR: one more figure and verdict per preset x ladder,
// and the init std's optimum in the summary. The loss is a parabola in log2(init std) with its
// optimum at 0.03 at both scales, so the three-point fit finds it exactly.
TEST_F(ReportTest, ASweptInitStdGetsItsOwnFigureVerdictAndSummary) {
  const std::string text = "name = \"init\"\n" + tiny_config() + R"(
[grid]
lr_log2 = { from = -8, to = -4 }
init_std = [0.01, 0.02, 0.04, 0.08]
seeds = [1]
[[preset]]
name = "mup"
[[ladder]]
name = "width"
axes = ["N", "Ne"]
scales = [1, 4]
)";
  const sweep::SweepSpec spec = sweep::load_sweep_spec(write_spec("init.toml", text));
  const sweep::Expansion expansion = sweep::expand_sweep(spec);
  const std::string db = path("init.sqlite");
  {
    sweep::ResultsStore store = sweep::ResultsStore::open(db, sweep::JournalMode::wal);
    store.register_sweep(spec, expansion);
    for (const sweep::Trial& t : expansion.trials) {
      const double x = std::log2(t.lr) + 6, s = std::log2(t.init_std / 0.03);
      sweep::TrialOutcome o;
      o.status = RunStatus::done;
      o.steps = 12;
      o.val_loss = 3.0 - 0.1 * std::log2(t.points.front().scale) + 0.04 * x * x + 0.05 * s * s;
      o.train_loss = o.val_loss;
      store.record(t.key, o);
    }
  }
  const auto store = sweep::ResultsStore::open_read_only(db);
  const ReportFiles files = write_transfer_report(store, path("init-report"), ReportOptions{});
  ASSERT_EQ(files.verdicts.size(), 5u) << "four init std panels, then the init std verdict";
  EXPECT_EQ(files.verdicts[4],
            "mup / width: init std: optimum drifts +0.00 octaves over 4x (+0.00 per doubling): "
            "transfers (within ±0.25 per doubling) (best init std x1 0.03, x4 0.03)");
  const std::string html = read_file(files.html_path);
  EXPECT_EQ(occurrences(html, "<svg class=\"plot init-plot\""), 1u);
  EXPECT_NE(html.find("href=\"#init-0\""), std::string::npos);
  EXPECT_EQ(files.svg_paths.back(), path("init-report") + "/plots/mup-width.init.svg");
  EXPECT_NE(read_file(files.svg_paths.back())
                .find(">mup / width: init std: best loss against "
                      "init std<"),
            std::string::npos);
  const auto json = nlohmann::json::parse(read_file(files.json_path));
  ASSERT_EQ(json["init_transfer"].size(), 1u);
  const auto& init = json["init_transfer"][0];
  EXPECT_EQ(init["transfers"], true);
  EXPECT_NEAR(init["scales"][1]["optimum"]["init_std"].get<double>(), 0.03, 1e-9);
  EXPECT_EQ(init["scales"][1]["points"].size(), 4u);
  EXPECT_EQ(init["scales"][1]["points"][1]["log2_lr"], -6);
}

TEST_F(ReportTest, ReportAndTransferThroughTheBinary) {
  const std::string db = make_database();
  auto r = testing::run_moet("report " + db + " --out " + path("out"), dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("report: " + path("out") + "/index.html"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  completep-moe / width: optimum drifts +0.00 octaves"), std::string::npos)
      << r.out;

  write_file_atomic(path("target.toml"), "[model]\nN = 64\nNe = 64\n[train]\nsteps = 500\n");
  r = testing::run_moet("transfer --db " + db + " --target " + path("target.toml") +
                            " --preset completep-moe --out " + path("target.transfer.toml"),
                        dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("optim.lr        = 0.015625  (2^-6.00, fit estimate"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("expert_up"), std::string::npos) << "the per-tensor table";
  const Config written = Config::load(full_config_schema(), path("target.transfer.toml"), {});
  EXPECT_EQ(written.get_float("optim.lr"), 0.015625);
  EXPECT_EQ(written.get_int("model.N"), 64) << "the target's shape";
  EXPECT_EQ(written.get_int("param.base.N"), 16) << "the sweep's base";
  EXPECT_EQ(written.get_string("param.preset"), "completep-moe");
  EXPECT_EQ(written.get_int("train.steps"), 500) << "the target's own keys win";
  EXPECT_EQ(written.get_int("model.vocab"), 64) << "unset keys come from the sweep";
  EXPECT_EQ(written.get_bool("train.save"), true) << "sweep-only settings are reset";

  // Bad input: one line, exit 2.
  for (const std::string& args :
       {"report " + path("nosuch.sqlite") + " --out " + path("x"),
        "report " + db + " --out " + path("x") + " --loss nosuch",
        "transfer --db " + db + " --target " + path("target.toml"),
        "transfer --db " + db + " --target " + path("target.toml") + " --preset mssp",
        "transfer --db " + db + " --target " + path("nosuch.toml") + " --preset sp"}) {
    r = testing::run_moet(args, dir_.string());
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_EQ(testing::count_lines(r.err), 1) << args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace moet::analysis
