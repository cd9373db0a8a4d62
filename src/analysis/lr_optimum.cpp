#include "analysis/lr_optimum.h"

#include <algorithm>

namespace moet::analysis {

const char* optimum_kind_name(OptimumKind kind) {
  switch (kind) {
    case OptimumKind::fit: return "fit";
    case OptimumKind::argmin: return "argmin";
    case OptimumKind::below_divergence: return "below-divergence";
    case OptimumKind::edge: return "edge";
    case OptimumKind::none: return "none";
  }
  return "?";
}

Optimum find_optimum(std::vector<LossPoint> points) {
  std::sort(points.begin(), points.end(),
            [](const LossPoint& a, const LossPoint& b) { return a.log2_x < b.log2_x; });
  const auto finite = [&](int i) {
    return i >= 0 && i < int(points.size()) && std::isfinite(points[size_t(i)].loss);
  };
  Optimum out;
  int best = -1;
  for (int i = 0; i < int(points.size()); ++i)
    if (finite(i) && (best < 0 || points[size_t(i)].loss < points[size_t(best)].loss)) best = i;
  if (best < 0) return out;

  const auto x = [&](int i) { return points[size_t(i)].log2_x; };
  const auto y = [&](int i) { return points[size_t(i)].loss; };
  out.grid_log2_x = x(best);
  out.log2_x = x(best);
  out.loss = y(best);
  bool flat = true;
  for (int i = 0; i < int(points.size()); ++i)
    if (finite(i) && y(i) != y(best)) flat = false;
  if (flat) {
    out.kind = OptimumKind::argmin;
    return out;
  }
  if (finite(best - 1) && best + 1 < int(points.size()) && !finite(best + 1)) {
    out.kind = OptimumKind::below_divergence;
    return out;
  }
  if (!finite(best - 1) || !finite(best + 1)) {
    out.kind = OptimumKind::edge;
    return out;
  }

  // The parabola through the minimum and its neighbours, in coordinates relative to the minimum.
  const double ul = x(best - 1) - x(best), ur = x(best + 1) - x(best);
  const double dl = y(best - 1) - y(best), dr = y(best + 1) - y(best);  // both >= 0
  const double a = (dr / ur - dl / ul) / (ur - ul);
  const double b = dl / ul - a * ul;
  if (a > 0 && std::isfinite(a)) {
    const double vertex = -b / (2 * a);
    out.kind = OptimumKind::fit;
    out.log2_x = x(best) + vertex;
    out.fitted_loss = y(best) - b * b / (4 * a);
    return out;
  }
  out.kind = OptimumKind::argmin;
  return out;
}

}  // namespace moet::analysis
