#include "analysis/run_axis_lr.h"

#include <fmt/format.h>

#include "analysis/ladder_transfer.h"
#include "analysis/power_law.h"
#include "core/error.h"
#include "sweep/ladder_axis.h"

namespace moet::analysis {

namespace {

struct AxisFit {
  std::string ladder;
  OptimumTrend trend;
};

// The power law along the first ladder of `preset` whose axes are `kind` alone, at `init_std`
// when that ladder swept it, else at the init std the ladder ran (said in the fit's line).
AxisFit fit_along(const std::vector<Panel>& panels, const std::string& preset, double init_std,
                  sweep::LadderAxis::Kind kind, const std::string& option) {
  const sweep::LadderAxis axis{kind};
  const std::string name = sweep::quantity_name(axis);
  const Panel* chosen = nullptr;
  for (const Panel& p : panels) {
    if (p.preset != preset || sweep::parse_ladder_axes(p.axes) != std::vector{axis}) continue;
    if (chosen && chosen->ladder != p.ladder) break;
    if (!chosen || p.init_std == init_std) chosen = &p;
  }
  if (!chosen)
    fail("{}: no ladder of preset {} scales {} alone (axes = [\"{}\"]); sweep one to predict the "
         "LR at another {}",
         option, preset, name, name,
         kind == sweep::LadderAxis::Kind::tokens ? "token budget" : "batch");
  const LadderAnalysis a = analyze_ladder(chosen->curves, kDefaultDriftTolerance);
  std::vector<double> scales;
  for (const ScaleCurve& c : chosen->curves) scales.push_back(c.scale);
  AxisFit f{chosen->ladder, optimum_trend(scales, a.optima, name)};
  if (!f.trend.fitted)
    fail("{}: ladder {} of preset {}: {}", option, chosen->ladder, preset, f.trend.text);
  if (chosen->init_std != init_std)
    f.trend.text +=
        fmt::format(" (at init std {:g}, not the tuned {:g}: the ladder did not run it)",
                    chosen->init_std, init_std);
  return f;
}

std::string band_text(double log2_lr, double half_width) {
  if (std::isnan(half_width)) return "no band: the fit has two points";
  return fmt::format("±{:.2f} octaves, 95% prediction band 2^{:.2f} to 2^{:.2f}", half_width,
                     log2_lr - half_width, log2_lr + half_width);
}

}  // namespace

RunAxisLr predict_run_axis_lr(const std::vector<Panel>& panels, const std::string& preset,
                              double init_std, const RunTargets& targets) {
  RunAxisLr out;
  const bool tokens = !std::isnan(targets.tokens_ratio), batch = !std::isnan(targets.batch_ratio);
  if (tokens) {
    const AxisFit f =
        fit_along(panels, preset, init_std, sweep::LadderAxis::Kind::tokens, "--target-tokens");
    const double x = std::log2(targets.tokens_ratio);
    const PowerLawPrediction p = predict(f.trend.fit, x);
    out.log2_lr = p.log2_y, out.half_width = p.half_width;
    out.tokens_ladder = f.ladder;
    out.source = fmt::format("the power law in tokens of ladder {} at {}", f.ladder,
                             scale_label(targets.tokens_ratio));
    out.lines.push_back(fmt::format("ladder {}: {}", f.ladder, f.trend.text));
  }
  if (batch) {
    const AxisFit f =
        fit_along(panels, preset, init_std, sweep::LadderAxis::Kind::batch, "--target-batch");
    const double x = std::log2(targets.batch_ratio);
    out.batch_ladder = f.ladder;
    out.lines.push_back(fmt::format("ladder {}: {}", f.ladder, f.trend.text));
    const std::string source = fmt::format("the power law in batch of ladder {} at {}", f.ladder,
                                           scale_label(targets.batch_ratio));
    if (!tokens) {
      const PowerLawPrediction p = predict(f.trend.fit, x);
      out.log2_lr = p.log2_y, out.half_width = p.half_width, out.source = source;
    } else {
      // The batch law's slope on top of the token law's value; its intercept is the token
      // law's business. The slope's own 95% band joins the token band in quadrature.
      const size_t n = f.trend.fit.log2_x.size();
      const double slope_band =
          n > 2 ? student_t_975(int(n - 2)) * f.trend.fit.slope_se * std::abs(x) : NAN;
      out.log2_lr += f.trend.fit.slope * x;
      out.half_width = std::hypot(out.half_width, slope_band);
      out.source += " plus " + source;
    }
  }
  out.lines.push_back(fmt::format("target {}{}{}: log2 lr* = {:.2f} ({})",
                                  tokens ? "tokens " + scale_label(targets.tokens_ratio) : "",
                                  tokens && batch ? ", " : "",
                                  batch ? "batch " + scale_label(targets.batch_ratio) : "",
                                  out.log2_lr, band_text(out.log2_lr, out.half_width)));
  return out;
}

}  // namespace moet::analysis
