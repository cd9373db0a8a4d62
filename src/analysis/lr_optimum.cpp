#include "analysis/lr_optimum.h"

#include <algorithm>
#include <array>

namespace moet::analysis {

const char* optimum_kind_name(OptimumKind kind) {
  switch (kind) {
    case OptimumKind::fit: return "fit";
    case OptimumKind::argmin: return "argmin";
    case OptimumKind::edge: return "edge";
    case OptimumKind::none: return "none";
  }
  return "?";
}

namespace {

struct Parabola {
  double a = 0, b = 0, c = 0;  // y = a u^2 + b u + c, u = x - x0
  bool ok = false;
};

// Least squares through (u, y); solved by Gaussian elimination on the 3x3 normal equations.
Parabola fit_parabola(const std::vector<double>& u, const std::vector<double>& y) {
  std::array<std::array<double, 4>, 3> m{};
  for (size_t i = 0; i < u.size(); ++i) {
    const double p[3] = {u[i] * u[i], u[i], 1.0};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] += p[r] * p[c];
      m[r][3] += p[r] * y[i];
    }
  }
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 3; ++r)
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    if (std::abs(m[pivot][col]) < 1e-300) return {};
    std::swap(m[col], m[pivot]);
    for (int r = 0; r < 3; ++r) {
      if (r == col) continue;
      const double f = m[r][col] / m[col][col];
      for (int c = col; c < 4; ++c) m[r][c] -= f * m[col][c];
    }
  }
  Parabola p;
  p.a = m[0][3] / m[0][0];
  p.b = m[1][3] / m[1][1];
  p.c = m[2][3] / m[2][2];
  p.ok = std::isfinite(p.a) && std::isfinite(p.b) && std::isfinite(p.c);
  return p;
}

}  // namespace

Optimum find_optimum(std::vector<LossPoint> points) {
  std::sort(points.begin(), points.end(),
            [](const LossPoint& a, const LossPoint& b) { return a.log2_lr < b.log2_lr; });
  const auto finite = [&](int i) {
    return i >= 0 && i < int(points.size()) && std::isfinite(points[size_t(i)].loss);
  };
  Optimum out;
  int best = -1;
  for (int i = 0; i < int(points.size()); ++i)
    if (finite(i) && (best < 0 || points[size_t(i)].loss < points[size_t(best)].loss)) best = i;
  if (best < 0) return out;

  const auto x = [&](int i) { return points[size_t(i)].log2_lr; };
  const auto y = [&](int i) { return points[size_t(i)].loss; };
  out.grid_log2_lr = x(best);
  out.log2_lr = x(best);
  out.loss = y(best);
  if (!finite(best - 1) || !finite(best + 1)) {
    out.kind = OptimumKind::edge;
    return out;
  }

  // The widest window first (up to two finite neighbours each side), then the three points.
  for (const int reach : {2, 1}) {
    int lo = best - 1, hi = best + 1;
    while (best - lo < reach && finite(lo - 1)) --lo;
    while (hi - best < reach && finite(hi + 1)) ++hi;
    std::vector<double> u, v;
    for (int i = lo; i <= hi; ++i) {
      u.push_back(x(i) - x(best));
      v.push_back(y(i));
    }
    const Parabola p = fit_parabola(u, v);
    if (!p.ok || !(p.a > 0)) continue;
    const double vertex = -p.b / (2 * p.a);
    if (vertex < x(best - 1) - x(best) || vertex > x(best + 1) - x(best)) continue;
    out.kind = OptimumKind::fit;
    out.log2_lr = x(best) + vertex;
    out.fitted_loss = p.c - p.b * p.b / (4 * p.a);
    out.fit_points = hi - lo + 1;
    return out;
  }
  out.kind = OptimumKind::argmin;
  return out;
}

}  // namespace moet::analysis
