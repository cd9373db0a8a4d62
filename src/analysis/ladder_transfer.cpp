#include "analysis/ladder_transfer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace moet::analysis {

std::string scale_label(double scale) { return fmt::format("x{:g}", scale); }

namespace {

// The loss an LR point stands for in optimum fitting: diverged seeds make it infinite.
double point_loss(const LrPoint& p) {
  if (p.seeds == 0) return NAN;
  return p.is_diverged() ? INFINITY : p.mean;
}

// Checks that values fall at every step; NaN anywhere makes the trend unknown.
Trend trend(const std::vector<ScaleCurve>& curves, const std::vector<double>& values,
            std::vector<std::string>& breaks) {
  for (const double v : values)
    if (!std::isfinite(v)) return Trend::unknown;
  if (values.size() < 2) return Trend::unknown;
  for (size_t i = 1; i < values.size(); ++i)
    if (!(values[i] < values[i - 1]))
      breaks.push_back(fmt::format("{} -> {}: {:+.4f}", scale_label(curves[i - 1].scale),
                                   scale_label(curves[i].scale), values[i] - values[i - 1]));
  return breaks.empty() ? Trend::better : Trend::not_better;
}

std::string octaves(double v) { return fmt::format("{:+.2f}", v); }

// Each seed's optimum on its own curve, when the scale has more than one seed.
std::vector<SeedOptimum> seed_optima(const ScaleCurve& curve) {
  std::map<int64_t, std::vector<LossPoint>> by_seed;
  for (const LrPoint& p : curve.points)
    for (const auto& [seed, loss] : p.by_seed) by_seed[seed].push_back({p.log2_lr, loss});
  std::vector<SeedOptimum> out;
  if (by_seed.size() < 2) return out;
  for (const auto& [seed, points] : by_seed) out.push_back({seed, find_optimum(points)});
  return out;
}

}  // namespace

size_t base_index(const std::vector<double>& scales) {
  for (size_t i = 0; i < scales.size(); ++i)
    if (scales[i] == 1) return i;
  return 0;
}

Drift measure_drift(const std::vector<Optimum>& optima, const std::vector<double>& scales,
                    size_t base, double tolerance, const std::string& grid_name) {
  Drift d;
  if (optima.size() < 2) {
    d.text = "a single scale: nothing to compare";
    return d;
  }
  d.scale_ratio = scales.back() / scales.front();
  const auto none_at = [&](size_t i) {
    return fmt::format("no optimum at {} (every {} diverged or none finished)",
                       scale_label(scales[i]), grid_name);
  };
  if (optima[base].kind == OptimumKind::none) {
    d.text = none_at(base);
    return d;
  }
  const Optimum &first = optima.front(), &last = optima.back();
  if (first.kind != OptimumKind::none && last.kind != OptimumKind::none) {
    d.octaves = last.log2_x - first.log2_x;
    d.per_doubling = d.octaves / std::log2(d.scale_ratio);
  }
  // The largest excursion from the base's optimum, and what makes it uncertain.
  double doublings = 0;
  size_t worst = base;
  std::vector<size_t> missing, edges;
  for (size_t i = 0; i < optima.size(); ++i) {
    doublings = std::max(doublings, std::abs(std::log2(scales[i] / scales[base])));
    if (optima[i].kind == OptimumKind::edge) edges.push_back(i);
    if (i == base) continue;
    if (optima[i].kind == OptimumKind::none) {
      missing.push_back(i);
      continue;
    }
    const double excursion = optima[i].log2_x - optima[base].log2_x;
    if (worst == base || std::abs(excursion) >= std::abs(d.excursion))  // ties: the larger
      d.excursion = excursion, worst = i;
  }
  d.is_bound = !edges.empty();
  if (worst != base) {
    d.excursion_scale = scales[worst];
    d.excursion_per_doubling = d.excursion / doublings;
  }
  if (base == 0 && worst + 1 == optima.size())  // the ends are the largest excursion
    d.text = fmt::format("optimum drifts {} octaves over {:g}x ({} per doubling)",
                         octaves(d.octaves), d.scale_ratio, octaves(d.per_doubling));
  else if (worst != base)
    d.text = fmt::format(
        "optimum moves up to {} octaves from {}'s, at {} ({} per doubling over {:g}x); end to "
        "end {} octaves ({} per doubling)",
        octaves(d.excursion), scale_label(scales[base]), scale_label(scales[worst]),
        octaves(d.excursion_per_doubling), std::exp2(doublings), octaves(d.octaves),
        octaves(d.per_doubling));
  // Beyond the tolerance is conclusive even where an optimum is at a grid edge: the base's is
  // inside the grid, so one past the edge lies further from it.
  const bool beyond = std::abs(d.excursion_per_doubling) > tolerance;
  if (beyond && optima[base].kind != OptimumKind::edge) {
    d.fails = true;
    d.text += fmt::format(": does not transfer (beyond ±{:g} per doubling)", tolerance);
  } else if (!edges.empty()) {
    d.text += fmt::format(", uncertain: the best {} at {} is at the edge of the grid", grid_name,
                          scale_label(scales[edges.front()]));
  } else if (!missing.empty()) {
    d.text += (d.text.empty() ? "" : ", uncertain: ") + none_at(missing.front());
  } else {
    d.holds = true;
    d.text += fmt::format(": transfers (within ±{:g} per doubling)", tolerance);
  }
  return d;
}

namespace {

// Each scale's optimum over its LR grid (and per seed), with a note where it is missing or
// uncertain.
void find_scale_optima(const std::vector<ScaleCurve>& curves, LadderAnalysis& a) {
  for (const ScaleCurve& curve : curves) {
    std::vector<LossPoint> points;
    for (const LrPoint& p : curve.points)
      if (p.seeds > 0) points.push_back({p.log2_lr, point_loss(p)});
    a.optima.push_back(find_optimum(points));
    a.seed_optima.push_back(seed_optima(curve));
    const Optimum& o = a.optima.back();
    const std::string at = scale_label(curve.scale);
    if (points.empty())
      a.notes.push_back(fmt::format("{}: no finished trials", at));
    else if (o.kind == OptimumKind::none)
      a.notes.push_back(fmt::format("{}: every LR diverged", at));
    else if (o.kind == OptimumKind::edge)
      a.notes.push_back(fmt::format(
          "{}: the best LR (2^{:g}) is at the edge of what was tried (the grid's end, or just "
          "above a diverged LR); the optimum may lie beyond it",
          at, o.grid_log2_x));
    else if (o.kind == OptimumKind::below_divergence)
      a.notes.push_back(fmt::format(
          "{}: the best LR (2^{:g}) is the largest that did not diverge; the optimum is at the "
          "edge of stability, known to a grid step",
          at, o.grid_log2_x));
    else if (o.kind == OptimumKind::argmin)
      a.notes.push_back(fmt::format(
          "{}: the curve is flat (every LR gave the same loss); the smallest LR stands for the "
          "optimum",
          at));
  }
}

// Loss at the base-optimal LR: the grid LR nearest the base's optimum, the one a user of this
// grid would carry up the ladder; per scale, its mean loss and seed range there.
void measure_at_base_lr(const std::vector<ScaleCurve>& curves, LadderAnalysis& a) {
  const Optimum& base = a.optima[size_t(a.base)];
  if (base.kind != OptimumKind::none) {
    double best_gap = INFINITY;
    for (const LrPoint& p : curves[size_t(a.base)].points)
      if (std::abs(p.log2_lr - base.log2_x) < best_gap - 1e-9)
        best_gap = std::abs(p.log2_lr - base.log2_x), a.base_grid_log2_lr = p.log2_lr;
  }
  for (const ScaleCurve& c : curves) {
    double loss = NAN, range = NAN;
    for (const LrPoint& p : c.points)
      if (std::abs(p.log2_lr - a.base_grid_log2_lr) < 1e-6 && p.seeds > 0 && !p.is_diverged()) {
        loss = p.mean;
        if (p.seeds > 1) range = p.max - p.min;
      }
    a.loss_at_base_lr.push_back(loss);
    a.seed_range_at_base_lr.push_back(range);
  }
}

// The verdict's "larger is better" part, from both trends ("" with fewer than two scales).
std::string larger_is_better_text(const LadderAnalysis& a, size_t scales) {
  if (scales < 2) return "";
  const auto broken = [](const std::vector<std::string>& breaks) {
    return fmt::format("{}", fmt::join(breaks, ", "));
  };
  const Trend b = a.at_base_lr, o = a.at_optimum;
  if (b == Trend::better && o == Trend::better) return "; larger is better at every step";
  if (b == Trend::not_better && o == Trend::not_better)
    return fmt::format("; larger is not better: at the base-optimal LR {}; at each scale's "
                       "optimum {}",
                       broken(a.base_lr_breaks), broken(a.optimum_breaks));
  if (b == Trend::not_better)
    return fmt::format("; larger is better at each scale's optimum{}, not at the "
                       "base-optimal LR ({})",
                       o == Trend::unknown ? " (unknown)" : "", broken(a.base_lr_breaks));
  if (o == Trend::not_better)
    return fmt::format("; larger is better at the base-optimal LR{}, not at each scale's "
                       "optimum ({})",
                       b == Trend::unknown ? " (unknown)" : "", broken(a.optimum_breaks));
  return "; larger is better: unknown (missing or diverged points)";
}

}  // namespace

LadderAnalysis analyze_ladder(const std::vector<ScaleCurve>& curves, double drift_tolerance) {
  LadderAnalysis a;
  const size_t n = curves.size();
  find_scale_optima(curves, a);
  if (n == 0) {
    a.verdict = "no scales";
    return a;
  }
  std::vector<double> scales;
  for (const ScaleCurve& c : curves) scales.push_back(c.scale);
  a.base = int(base_index(scales));
  a.drift = measure_drift(a.optima, scales, size_t(a.base), drift_tolerance, "LR");
  measure_at_base_lr(curves, a);
  std::vector<double> best;
  for (const Optimum& o : a.optima) best.push_back(o.loss);
  a.at_base_lr = trend(curves, a.loss_at_base_lr, a.base_lr_breaks);
  a.at_optimum = trend(curves, best, a.optimum_breaks);

  // The verdict: drift first, then "larger is better".
  a.verdict = a.drift.text + larger_is_better_text(a, n);
  return a;
}

}  // namespace moet::analysis
