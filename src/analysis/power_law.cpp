#include "analysis/power_law.h"

#include <fmt/format.h>

#include <array>

#include "analysis/ladder_transfer.h"
#include "core/config.h"
#include "core/error.h"

namespace moet::analysis {

PowerLawFit fit_power_law(const std::vector<double>& log2_x, const std::vector<double>& log2_y) {
  const size_t n = log2_x.size();
  if (n < 2 || log2_y.size() != n)
    fail("a power law needs at least two points (got {})", std::min(n, log2_y.size()));
  PowerLawFit f;
  f.log2_x = log2_x;
  f.log2_y = log2_y;
  double mean_y = 0;
  f.mean_log2_x = 0;
  for (size_t i = 0; i < n; ++i)
    f.mean_log2_x += log2_x[i] / double(n), mean_y += log2_y[i] / double(n);
  double sxy = 0;
  f.sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    f.sxx += (log2_x[i] - f.mean_log2_x) * (log2_x[i] - f.mean_log2_x);
    sxy += (log2_x[i] - f.mean_log2_x) * (log2_y[i] - mean_y);
  }
  if (!(f.sxx > 0)) fail("a power law needs at least two distinct x values");
  f.slope = sxy / f.sxx;
  f.intercept = mean_y - f.slope * f.mean_log2_x;
  double ssr = 0;
  for (size_t i = 0; i < n; ++i) {
    f.residuals.push_back(log2_y[i] - (f.intercept + f.slope * log2_x[i]));
    ssr += f.residuals.back() * f.residuals.back();
  }
  if (n > 2) {
    f.residual_sd = std::sqrt(ssr / double(n - 2));
    f.slope_se = f.residual_sd / std::sqrt(f.sxx);
  }
  return f;
}

double student_t_975(int df) {
  static constexpr std::array<double, 30> table = {
      12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
      2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
      2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (df < 1) fail("Student t: {} degrees of freedom", df);
  if (df <= int(table.size())) return table[size_t(df - 1)];
  // Cornish-Fisher expansion around the normal quantile: within 1e-4 from 30 degrees on.
  const double z = 1.959964, v = double(df);
  return z + (z * z * z + z) / (4 * v) +
         (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v);
}

PowerLawPrediction predict(const PowerLawFit& fit, double log2_x) {
  PowerLawPrediction p;
  p.log2_y = fit.intercept + fit.slope * log2_x;
  const size_t n = fit.log2_x.size();
  if (n > 2) {
    const double d = log2_x - fit.mean_log2_x;
    p.half_width = student_t_975(int(n - 2)) * fit.residual_sd *
                   std::sqrt(1 + 1 / double(n) + d * d / fit.sxx);
  }
  return p;
}

OptimumTrend optimum_trend(const std::vector<double>& scales, const std::vector<Optimum>& optima,
                           const std::string& quantity) {
  OptimumTrend t;
  std::vector<double> x, y;
  for (size_t i = 0; i < scales.size() && i < optima.size(); ++i) {
    const OptimumKind kind = optima[i].kind;
    if (kind != OptimumKind::edge && kind != OptimumKind::none) {
      t.scales.push_back(scales[i]);
      x.push_back(std::log2(scales[i]));
      y.push_back(optima[i].log2_x);
    } else {
      t.left_out.push_back(fmt::format("{} ({})", scale_label(scales[i]), optimum_kind_name(kind)));
    }
  }
  const std::string left_out =
      t.left_out.empty() ? "" : fmt::format("; left out: {}", join(t.left_out, ", "));
  if (x.size() < 2) {
    t.text = fmt::format("optimum against {}: fewer than two scales with an optimum inside the "
                         "grid, no power law{}",
                         quantity, left_out);
    return t;
  }
  t.fitted = true;
  t.fit = fit_power_law(x, y);
  std::string residuals;
  for (size_t i = 0; i < x.size(); ++i)
    residuals +=
        fmt::format("{}{:+.2f} at {}", i ? ", " : "", t.fit.residuals[i], scale_label(t.scales[i]));
  t.text = fmt::format(
      "optimum against {}: lr* ∝ {}^{:+.3f}{}, log2 lr* = {:.2f} {:+.3f} log2(x); residuals "
      "(octaves) {}{}",
      quantity, quantity, t.fit.slope,
      std::isfinite(t.fit.slope_se) ? fmt::format(" (±{:.3f} s.e.)", t.fit.slope_se)
                                    : std::string(" (two points: no error estimate)"),
      t.fit.intercept, t.fit.slope, residuals, left_out);
  return t;
}

}  // namespace moet::analysis
