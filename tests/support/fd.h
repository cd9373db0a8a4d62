// Finite differences in double precision: the yardstick for every hand-written backward.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moet::testing {

// Central difference of f at x[i]; x is restored.
inline double central_difference(const std::function<double()>& f, double& xi, double eps) {
  const double saved = xi;
  xi = saved + eps;
  const double plus = f();
  xi = saved - eps;
  const double minus = f();
  xi = saved;
  return (plus - minus) / (2 * eps);
}

// |a - n| <= atol + rtol * max(|a|, |n|); reports what was compared on failure.
inline void expect_close(double analytic, double numeric, double rtol, double atol,
                         const std::string& what) {
  const double tol = atol + rtol * std::max(std::abs(analytic), std::abs(numeric));
  EXPECT_LE(std::abs(analytic - numeric), tol)
      << what << ": analytic " << analytic << " vs numeric " << numeric;
}

// Checks every entry of x (or a deterministic sample of `max_checks` of them).
inline void check_gradient(const std::function<double()>& f, std::vector<double>& x,
                           const std::vector<double>& analytic, const std::string& what,
                           double rtol = 1e-6, double atol = 1e-9, double eps = 1e-6,
                           size_t max_checks = 1u << 30) {
  ASSERT_EQ(x.size(), analytic.size());
  const size_t stride = x.size() > max_checks ? x.size() / max_checks : 1;
  for (size_t i = 0; i < x.size(); i += stride)
    expect_close(analytic[i], central_difference(f, x[i], eps), rtol, atol,
                 what + "[" + std::to_string(i) + "]");
}

// Checks analytic = d<g, f(x)>/dx (a vector-Jacobian product) by central differences on every
// entry of x, or on about `max_checks` entries spread over it. The two perturbed outputs are
// subtracted before the dot product with g, so outputs that x[i] does not touch cancel exactly
// and the roundoff of summing a large L never enters: this stays accurate for outputs with tens
// of thousands of entries, where differencing the scalar L would not. f must be deterministic.
inline void check_vjp(const std::function<std::vector<double>()>& f, const std::vector<double>& g,
                      std::vector<double>& x, const std::vector<double>& analytic,
                      const std::string& what, size_t max_checks = 1u << 30, double rtol = 1e-6,
                      double atol = 1e-9, double eps = 1e-6) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  const size_t stride = x.size() > max_checks ? x.size() / max_checks : 1;
  for (size_t i = 0; i < x.size(); i += stride) {
    const double saved = x[i];
    x[i] = saved + eps;
    const std::vector<double> plus = f();
    x[i] = saved - eps;
    const std::vector<double> minus = f();
    x[i] = saved;
    ASSERT_EQ(plus.size(), g.size()) << what;
    double numeric = 0;
    for (size_t j = 0; j < g.size(); ++j) numeric += g[j] * (plus[j] - minus[j]);
    expect_close(analytic[i], numeric / (2 * eps), rtol, atol,
                 what + "[" + std::to_string(i) + "]");
  }
}

inline std::vector<double> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
  std::vector<double> v(n);
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = scale * ((double(s >> 11) * 0x1.0p-53) * 2 - 1);
  }
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace moet::testing
