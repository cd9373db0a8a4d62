// The coordinate check's arithmetic on synthetic data: the log-log slope fit, the verdicts and
// their thresholds, and the report built from series with known slopes (table, JSON, SVG). Bad
// command lines fail with one line and exit 2. The ladder is tested in ladder_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../support/run_binary.h"
#include "analysis/coord_plot.h"
#include "coord/fit.h"
#include "coord/ladder.h"
#include "coord/report.h"
#include "coord/run.h"
#include "core/error.h"

namespace moet {
namespace {

using param::Axis;

TEST(CoordFit, RecoversThePowerOfAPowerLaw) {
  const std::vector<double> x = {1, 2, 4, 8};
  for (const double power : {-1.0, -0.5, 0.0, 0.5, 1.0}) {
    std::vector<double> y;
    for (const double s : x) y.push_back(3.0 * std::pow(s, power));
    const SlopeFit fit = fit_log_log(x, y);
    EXPECT_EQ(fit.points, 4);
    EXPECT_NEAR(fit.slope, power, 1e-12);
    EXPECT_NEAR(fit.intercept, std::log(3.0), 1e-12);
    EXPECT_NEAR(fit.slope_stderr, 0.0, 1e-12);
  }
}

TEST(CoordFit, IsTheLeastSquaresLineOfTheLogs) {
  // log2 y = 0, 1, 1 at log2 x = 0, 1, 2: slope 1/2 in log-log (the base cancels), residuals
  // -1/6, +1/3, -1/6 (in units of ln 2), so stderr = sqrt((1/6) / 1 / 2) with both in ln 2.
  const SlopeFit fit = fit_log_log({1, 2, 4}, {1, 2, 2});
  EXPECT_NEAR(fit.slope, 0.5, 1e-12);
  EXPECT_NEAR(fit.slope_stderr, std::sqrt((1.0 / 6.0) / 1.0 / 2.0), 1e-12);
}

TEST(CoordFit, NeedsPositiveFiniteValuesAndTwoScales) {
  EXPECT_EQ(fit_log_log({1, 2}, {1, 0}).points, 0);
  EXPECT_EQ(fit_log_log({1, 2}, {1, -1}).points, 0);
  EXPECT_EQ(fit_log_log({1, 2}, {1, NAN}).points, 0);
  EXPECT_EQ(fit_log_log({1}, {1}).points, 0);
  EXPECT_EQ(fit_log_log({2, 2}, {1, 3}).points, 0);
  EXPECT_EQ(fit_log_log({1, 2}, {1, 3}).points, 2);
}

TEST(CoordFit, VerdictsFollowTheThreshold) {
  const std::vector<double> x = {1, 2, 4, 8};
  const auto verdict = [&](double power, double threshold) {
    std::vector<double> y;
    for (const double s : x) y.push_back(std::pow(s, power));
    return classify(y, fit_log_log(x, y), threshold);
  };
  EXPECT_EQ(verdict(0.0, 0.15), Verdict::flat);
  EXPECT_EQ(verdict(0.149, 0.15), Verdict::flat);
  EXPECT_EQ(verdict(-0.149, 0.15), Verdict::flat);
  EXPECT_EQ(verdict(0.151, 0.15), Verdict::grows);
  EXPECT_EQ(verdict(-0.151, 0.15), Verdict::shrinks);
  EXPECT_EQ(verdict(0.3, 0.5), Verdict::flat);
  EXPECT_EQ(verdict(1.0, 0.5), Verdict::grows);

  EXPECT_EQ(classify({0, 0, 0}, fit_log_log(x, {0, 0, 0}), 0.15), Verdict::zero);
  EXPECT_EQ(classify({1, NAN, 2}, SlopeFit{}, 0.15), Verdict::diverged);
  EXPECT_EQ(classify({1, INFINITY, 2}, SlopeFit{}, 0.15), Verdict::diverged);
  EXPECT_EQ(classify({0, 1, 2}, fit_log_log({1, 2, 4}, {0, 1, 2}), 0.15), Verdict::undetermined);
  EXPECT_STREQ(verdict_name(Verdict::undetermined), "n/a");
}

// Two scales, two steps, two seeds; values seed-symmetric around a known power of the scale.
CoordData synthetic_data() {
  CoordData d;
  d.preset = "test";
  d.depth = "none";
  d.optimizer = "adam";
  d.axes = {Axis::N};
  d.scales = {1, 2, 4};
  for (const double s : d.scales)
    d.shapes.push_back(param::AxisValues{{int64_t(32 * s), 32, 8, 2, 1}});
  d.steps = {0, 3};
  d.train_steps = 3;
  d.seeds = 2;
  const auto series = [&](const std::string& metric, const std::string& layer, double power0,
                          double power1) {
    CoordSeries s{metric, layer, {}};
    for (const double power : {power0, power1}) {
      std::vector<std::vector<double>> per_scale;
      for (const double x : d.scales) {
        const double v = std::isnan(power) ? 0.0 : std::pow(x, power);
        per_scale.push_back({v * 0.9, v * 1.1});  // mean v
      }
      s.values.push_back(per_scale);
    }
    return s;
  };
  d.series.push_back(series("eff.readout", "-", NAN, 1.0));
  d.series.push_back(series("act.logits", "-", -0.5, 0.0));
  d.series.push_back(series("prop.readout", "-", NAN, -0.5));
  d.series.push_back(series("act.resid", "0", 0.0, 0.05));
  CoordSeries diverged = series("loss", "-", 0.0, 0.0);
  diverged.values[1][2][1] = NAN;
  d.series.push_back(diverged);
  return d;
}

TEST(CoordReport, MeansSlopesVerdictsAndOrder) {
  const CoordData data = synthetic_data();
  const CoordAnalysis a = analyse_coord(data, 0.15);
  ASSERT_EQ(a.rows.size(), 5u);
  // act before eff before prop (same role together), loss last.
  EXPECT_EQ(a.rows[0].metric, "act.logits");
  EXPECT_EQ(a.rows[1].metric, "act.resid");
  EXPECT_EQ(a.rows[2].metric, "eff.readout");
  EXPECT_EQ(a.rows[3].metric, "prop.readout");
  EXPECT_EQ(a.rows[4].metric, "loss");
  const CoordRow& logits = a.rows[0];
  EXPECT_NEAR(logits.mean[0][2], 0.5, 1e-12);  // 4^-0.5, the mean of 0.9 v and 1.1 v
  EXPECT_NEAR(logits.fits[0].slope, -0.5, 1e-12);
  EXPECT_EQ(logits.verdicts[0], Verdict::shrinks);
  EXPECT_EQ(logits.verdict, Verdict::flat);  // the last step decides
  EXPECT_EQ(a.rows[1].verdict, Verdict::flat);
  EXPECT_EQ(a.rows[2].verdicts[0], Verdict::zero);
  EXPECT_EQ(a.rows[2].verdict, Verdict::grows);
  EXPECT_EQ(a.rows[3].verdict, Verdict::shrinks);
  EXPECT_EQ(a.rows[4].verdict, Verdict::diverged);
  EXPECT_EQ(analyse_coord(data, 0.02).rows[1].verdict, Verdict::grows);

  const std::vector<const CoordRow*> only = select_rows(a, {"eff.", "prop."});
  ASSERT_EQ(only.size(), 2u);
  EXPECT_EQ(only[0]->metric, "eff.readout");

  const std::string table = format_coord_table(data, a);
  EXPECT_NE(table.find("eff.readout"), std::string::npos);
  EXPECT_NE(table.find("+1.00"), std::string::npos);
  EXPECT_NE(table.find("5 rows: 1 diverged, 2 flat, 1 grows, 1 shrinks"), std::string::npos)
      << table;
  const std::string filtered = format_coord_table(data, a, {"act.logits"});
  EXPECT_EQ(filtered.find("eff.readout"), std::string::npos);
}

TEST(CoordReport, UncertainWhenThePointsAreFarFromALine) {
  CoordData data = synthetic_data();
  // A zig-zag 1, 3, 1: slope 0 but standard error 0.92, so "flat" is not a finding.
  data.series = {data.series[1]};
  for (size_t i = 0; i < 3; ++i)
    data.series[0].values[1][i] = {i == 1 ? 3.0 : 1.0, i == 1 ? 3.0 : 1.0};
  const CoordAnalysis a = analyse_coord(data, 0.15);
  ASSERT_EQ(a.rows.size(), 1u);
  EXPECT_NEAR(a.rows[0].fits.back().slope, 0.0, 1e-12);
  EXPECT_NEAR(a.rows[0].fits.back().slope_stderr, 0.915, 1e-3);
  EXPECT_EQ(a.rows[0].verdict, Verdict::flat);
  EXPECT_TRUE(a.rows[0].uncertain);
  const std::string table = format_coord_table(data, a);
  EXPECT_NE(table.find("0.92  1 -> 1"), std::string::npos) << table;
  EXPECT_NE(table.find("flat?"), std::string::npos) << table;
  EXPECT_NE(table.find("1 flat (1 of them uncertain)"), std::string::npos) << table;
  EXPECT_TRUE(coord_to_json(data, a).at("metrics")[0].at("uncertain").get<bool>());
  EXPECT_FALSE(analyse_coord(synthetic_data(), 0.15).rows[0].uncertain);  // exact power laws
}

TEST(CoordReport, JsonKeepsEveryValueWithNullForNaN) {
  const CoordData data = synthetic_data();
  const nlohmann::json j = coord_to_json(data, analyse_coord(data, 0.15));
  EXPECT_EQ(j.at("format"), "moet-coord/1");
  EXPECT_EQ(j.at("axes"), nlohmann::json::array({"N"}));
  EXPECT_EQ(j.at("shapes")[2].at("N"), 128);
  ASSERT_EQ(j.at("metrics").size(), 5u);
  const nlohmann::json& eff = j.at("metrics")[2];
  EXPECT_EQ(eff.at("metric"), "eff.readout");
  EXPECT_EQ(eff.at("values")[1][1], nlohmann::json::array({1.8, 2.2}));  // [step][scale][seed]
  EXPECT_TRUE(eff.at("slope")[0].is_null());                             // all zero: no fit
  EXPECT_NEAR(eff.at("slope")[1].get<double>(), 1.0, 1e-12);
  EXPECT_EQ(eff.at("verdicts"), nlohmann::json::array({"zero", "grows"}));
  const nlohmann::json& loss = j.at("metrics")[4];
  EXPECT_TRUE(loss.at("values")[1][2][1].is_null());
  EXPECT_TRUE(loss.at("mean")[1][2].is_null());
  EXPECT_EQ(loss.at("verdict"), "diverged");
}

TEST(CoordPlot, OnePanelPerRowAndOneLinePerStep) {
  const CoordData data = synthetic_data();
  const CoordAnalysis a = analyse_coord(data, 0.15);
  const std::string svg = coord_svg(data, a);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  const auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  // Panels: a frame each. Lines: both steps of act.logits, act.resid and loss (whose NaN point
  // leaves a 2-point line), one of eff.readout and prop.readout (step 0 is all zero).
  EXPECT_EQ(count("fill='#fafafa'"), 5u);
  EXPECT_EQ(count("<polyline"), 8u);
  EXPECT_NE(svg.find("slope +1.00 ± 0.00 · grows"), std::string::npos);
  EXPECT_EQ(count("fill='#fafafa'"), 5u);
  EXPECT_EQ(coord_svg(data, a, {"loss"}).find("act.logits"), std::string::npos);
}

TEST(CoordCli, BadInputIsOneLineAndExitTwo) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("moet_coord_cli_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  for (const std::string& args :
       {std::string("coord --axis width"), std::string("coord --axis N --scales 1"),
        std::string("coord --axis N,Ne --scales 1,2 --steps 0"),
        std::string("coord --axis N,Ne --record 0,50"),
        std::string("coord --axis N,Ne --scales 1,2 --set param.base.N=64"),
        std::string("coord --axis N --scales 1,2 --set param.preset=mssp"),
        std::string("coord --axis N --scales 1,1.3")}) {
    const testing::CommandResult r = testing::run_moet(args, dir);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("moet coord: ", 0), 0u) << r.err;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moet
