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

// The power law along the first ladder of `preset` at `init_std` whose axes are `kind` alone.
AxisFit fit_along(const std::vector<Panel>& panels, const std::string& preset, double init_std,
                  sweep::LadderAxis::Kind kind, const std::string& option) {
  const sweep::LadderAxis axis{kind};
  const std::string name = sweep::quantity_name(axis);
  for (const Panel& p : panels) {
    if (p.preset != preset || p.init_std != init_std) continue;
    if (sweep::parse_ladder_axes(p.axes) != std::vector<sweep::LadderAxis>{axis}) continue;
    const LadderAnalysis a = analyze_ladder(p.curves, kDefaultDriftTolerance);
    std::vector<double> scales;
    for (const ScaleCurve& c : p.curves) scales.push_back(c.scale);
    AxisFit f{p.ladder, optimum_trend(scales, a.optima, name)};
    if (!f.trend.fitted)
      fail("{}: ladder {} of preset {}: {}", option, p.ladder, preset, f.trend.text);
    return f;
  }
  fail("{}: no ladder of preset {} scales {} alone (axes = [\"{}\"]); sweep one to predict the "
       "LR at another {}",
       option, preset, name, name,
       kind == sweep::LadderAxis::Kind::tokens ? "token budget" : "batch");
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
    out.source = fmt::format("the power law in tokens of ladder {} at {}", f.ladder,
                             scale_label(targets.tokens_ratio));
    out.lines.push_back(fmt::format("ladder {}: {}", f.ladder, f.trend.text));
  }
  if (batch) {
    const AxisFit f =
        fit_along(panels, preset, init_std, sweep::LadderAxis::Kind::batch, "--target-batch");
    const double x = std::log2(targets.batch_ratio);
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
