// The vectorised float exp (kernels/fast_math.h) and what is built on it — the float GELU and the
// row softmax helpers — measured as relative error against double precision on dense grids, plus
// the edge cases (NaN, infinities, underflow) and agreement of the vector and scalar forms.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../support/worst.h"
#include "kernels/activation.h"
#include "kernels/fast_math.h"
#include "kernels/softmax_row.h"

namespace moet {
namespace {

using testing::worse;

// A dense grid over [lo, hi]: every float in a sample of 2^20 evenly spaced points.
std::vector<float> grid(float lo, float hi, int64_t n = int64_t(1) << 20) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = lo + (hi - lo) * float(double(i) / double(n - 1));
  return x;
}

#ifdef MOET_SIMD
std::vector<float> vector_exp(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); i += simd::kLanes) {
    const simd::Mask m = simd::first(int64_t(x.size() - i));
    simd::store(out.data() + i, m, fast::exp(simd::load(m, x.data() + i)));
  }
  return out;
}
#endif

TEST(FastExp, WithinThreeTenthsOfAMillionthOfDoubleExp) {
  // Normal results only: below ~-87.3 the float result is denormal and loses relative accuracy
  // as float itself does.
  const std::vector<float> x = grid(-87.0f, 88.7f);
  double worst = 0;
  for (const float v : x) {
    const double want = std::exp(double(v));
    worst = worse(worst, std::abs(double(fast::exp(v)) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);
#ifdef MOET_SIMD
  const std::vector<float> vec = vector_exp(x);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(vec[i], fast::exp(x[i])) << "vector and scalar forms differ at " << x[i];
#endif
}

#ifdef MOET_SIMD
// Below -87.3 the result is denormal: AVX2 applies 2^n as two factors, AVX-512 with vscalefps,
// the scalar form with ldexp; each must round once, to the same float.
TEST(FastExp, VectorAndScalarAgreeWhereTheResultIsDenormal) {
  const std::vector<float> x = grid(-104.0f, -87.0f, int64_t(1) << 16);
  const std::vector<float> vec = vector_exp(x);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(vec[i], fast::exp(x[i])) << "vector and scalar forms differ at " << x[i];
}
#endif

TEST(FastExp, EdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {-inf, -1000.0f, -104.0f, 0.0f, -0.0f, 88.72f, 1000.0f, inf, nan};
  std::vector<float> got;
  for (const float v : x) got.push_back(fast::exp(v));
#ifdef MOET_SIMD
  const std::vector<float> vec = vector_exp(x);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(got[i]))
      EXPECT_TRUE(std::isnan(vec[i]));
    else
      EXPECT_EQ(vec[i], got[i]) << x[i];
  }
#endif
  EXPECT_EQ(got[0], 0.0f);
  EXPECT_EQ(got[1], 0.0f);
  EXPECT_LT(got[2], 1e-44f);
  EXPECT_EQ(got[3], 1.0f);
  EXPECT_EQ(got[4], 1.0f);
  EXPECT_NEAR(got[5], std::exp(double(88.72f)), 1e-6 * std::exp(double(88.72f)));  // near FLT_MAX
  EXPECT_TRUE(std::isfinite(got[6]) && got[6] > 3e38f);  // clamped, not infinity
  EXPECT_TRUE(std::isfinite(got[7]));
  EXPECT_TRUE(std::isnan(got[8]));
}

// GELU (tanh form) and its derivative in double, written as x sigmoid(2u): the same function,
// but without 1 + tanh(u) rounding to zero for very negative x, so far tails can be compared.
double gelu_double(double x) {
  const double u = std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
  return x / (1 + std::exp(-2 * u));
}
double gelu_grad_double(double x) {
  const double u = std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
  const double du = std::sqrt(2 / M_PI) * (1 + 3 * 0.044715 * x * x);
  const double s = 1 / (1 + std::exp(-2 * u));
  return s + 2 * x * s * (1 - s) * du;
}

TEST(FastGelu, FloatForwardAndBackwardTrackDouble) {
  const std::vector<float> x = grid(-12.0f, 12.0f, 1 << 18);
  const int64_t n = int64_t(x.size());
  std::vector<float> out(x.size()), din(x.size()), ones(x.size(), 1.0f);
  gelu_forward<float>(out.data(), x.data(), n);
  gelu_backward<float>(din.data(), ones.data(), x.data(), n);
  double worst_out = 0, worst_grad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = gelu_double(x[i]), want_grad = gelu_grad_double(x[i]);
    // Relative to the value, scaled by the conditioning of exp(-2u): u itself carries float
    // rounding, which exp turns into a relative error of |2u| ulp in the far negative tail
    // (any float evaluation has it; the tanh form loses the tail entirely).
    const double u = std::sqrt(2 / M_PI) * (x[i] + 0.044715 * double(x[i]) * x[i] * x[i]);
    worst_out = worse(worst_out,
                      std::abs(out[i] - want) / ((std::abs(want) + 1e-30) * (1 + std::abs(2 * u))));
    // The derivative is a sum of terms of order one that cancel near x = -0.75: relative to
    // the value, with an absolute floor of ~1e-7 (a few float ulps of those terms).
    worst_grad = worse(worst_grad, std::abs(din[i] - want_grad) / (std::abs(want_grad) + 0.1));
  }
  EXPECT_LT(worst_out, 1e-6);
  EXPECT_LT(worst_grad, 1e-6);
}

TEST(SoftmaxRow, FloatRowsMatchDouble) {
  for (const int64_t n : {1, 15, 16, 17, 100, 4096}) {
    std::vector<float> row(static_cast<size_t>(n));
    std::vector<double> rowd(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j)
      rowd[size_t(j)] = row[size_t(j)] = float(std::sin(0.37 * j) * 6);
    const RowExp<float> e = exp_shift_row(row.data(), n);
    const RowExp<double> ed = exp_shift_row(rowd.data(), n);
    EXPECT_EQ(double(e.max), ed.max);
    EXPECT_NEAR(e.sum, ed.sum, 1e-6 * ed.sum) << n;
    for (int64_t j = 0; j < n; ++j)
      // x - max rounds in float (half an ulp of up to 12), then exp adds its 2 ulp.
      ASSERT_NEAR(row[size_t(j)], rowd[size_t(j)], 1.5e-6 * rowd[size_t(j)]) << n << " " << j;

    std::vector<float> dp(static_cast<size_t>(n)), p(static_cast<size_t>(n));
    std::vector<double> dpd(static_cast<size_t>(n)), pd(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      pd[size_t(j)] = p[size_t(j)] = row[size_t(j)] / e.sum;
      dpd[size_t(j)] = dp[size_t(j)] = float(std::cos(0.11 * j));
    }
    softmax_backward_row(dp.data(), p.data(), n);
    softmax_backward_row(dpd.data(), pd.data(), n);
    for (int64_t j = 0; j < n; ++j)
      ASSERT_NEAR(dp[size_t(j)], dpd[size_t(j)], 1e-6) << n << " " << j;

    std::vector<float> sig(static_cast<size_t>(n));
    std::vector<double> sigd(static_cast<size_t>(n));
    sigmoid_row(sig.data(), row.data(), n);
    std::vector<double> rowf(row.begin(), row.end());
    sigmoid_row(sigd.data(), rowf.data(), n);
    for (int64_t j = 0; j < n; ++j)
      ASSERT_NEAR(sig[size_t(j)], sigd[size_t(j)], 3e-7 * sigd[size_t(j)]) << n << " " << j;
  }
}

}  // namespace
}  // namespace moet
