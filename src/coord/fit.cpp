#include "coord/fit.h"

#include <cmath>

namespace moet {

SlopeFit fit_log_log(const std::vector<double>& x, const std::vector<double>& y) {
  SlopeFit fit;
  if (x.size() != y.size() || x.size() < 2) return fit;
  const size_t n = x.size();
  std::vector<double> lx(n), ly(n);
  for (size_t i = 0; i < n; ++i) {
    if (!(x[i] > 0) || !(y[i] > 0) || !std::isfinite(x[i]) || !std::isfinite(y[i])) return fit;
    lx[i] = std::log(x[i]);
    ly[i] = std::log(y[i]);
  }
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += lx[i], my += ly[i];
  mx /= double(n), my /= double(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (lx[i] - mx) * (lx[i] - mx);
    sxy += (lx[i] - mx) * (ly[i] - my);
  }
  if (!(sxx > 0)) return fit;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  fit.points = int(n);
  if (n > 2) {
    double ssr = 0;
    for (size_t i = 0; i < n; ++i) {
      const double r = ly[i] - (fit.intercept + fit.slope * lx[i]);
      ssr += r * r;
    }
    fit.slope_stderr = std::sqrt(ssr / double(n - 2) / sxx);
  }
  return fit;
}

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::flat: return "flat";
    case Verdict::grows: return "grows";
    case Verdict::shrinks: return "shrinks";
    case Verdict::zero: return "zero";
    case Verdict::diverged: return "diverged";
    case Verdict::undetermined: return "n/a";
  }
  return "?";
}

Verdict classify(const std::vector<double>& y, const SlopeFit& fit, double flat_threshold) {
  bool all_zero = true;
  for (const double v : y) {
    if (!std::isfinite(v)) return Verdict::diverged;
    if (v != 0) all_zero = false;
  }
  if (all_zero) return Verdict::zero;
  if (fit.points == 0) return Verdict::undetermined;
  if (std::fabs(fit.slope) < flat_threshold) return Verdict::flat;
  return fit.slope > 0 ? Verdict::grows : Verdict::shrinks;
}

}  // namespace moet
