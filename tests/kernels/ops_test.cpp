// Every hand-written kernel except GEMM (gemm_test.cpp), bf16 and peak, checked three ways:
// forward against a plain scalar reference written here (double, and float with a stated
// tolerance); backward against central finite differences in double of L = <g, f(x)> for every
// input the kernel differentiates; and the buffer convention of each backward (adds into a
// pre-filled gradient, or overwrites a NaN-filled one without reading it). Shapes include odd
// sizes, single rows/tokens, and one shape per kernel large enough to take the OpenMP path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "../support/fd.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/colsum.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include "kernels/routing.h"
#include "kernels/xent.h"

namespace moet {
namespace {

using testing::check_vjp;
using testing::dot;
using testing::random_vector;
using Vec = std::vector<double>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Double kernels against the double reference: only summation order differs.
constexpr double kDoubleTol = 1e-12;
// Float kernels against the double reference on the same float-rounded inputs: float rounding
// (6e-8) accumulated over at most a few hundred terms per output, relative to the output's scale.
constexpr double kFloatTol = 2e-5;
// Backward in float against backward in double: more steps, some cancellation (norms, softmax).
constexpr double kFloatBackwardTol = 1e-4;

template <typename T>
std::vector<T> as(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
Vec widen(const std::vector<T>& v) {
  return Vec(v.begin(), v.end());
}
// The inputs a float kernel actually sees, so the double reference can use the same numbers.
Vec float_rounded(const Vec& v) { return widen(as<float>(v)); }

Vec minus(const Vec& a, const Vec& b) {
  Vec out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}
Vec shifted(const Vec& v, double by) {
  Vec out(v);
  for (double& x : out) x += by;
  return out;
}
double max_abs(const Vec& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::abs(x));
  return m;
}

// |actual - expected| <= tol * (|expected| + scale) entry by entry, where scale is the largest
// |expected| (so entries near zero are judged against the size of the whole output), or
// min_scale when the output is a cancellation of larger terms. One failure message, naming the
// worst entry and how many are off.
void expect_all_near(const Vec& actual, const Vec& expected, double tol, const std::string& what,
                     double min_scale = 1e-300) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  const double scale = std::max(max_abs(expected), min_scale);
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double err = std::abs(actual[i] - expected[i]);
    const double ratio = err / (tol * (std::abs(expected[i]) + scale));
    if (!(ratio <= 1)) ++bad;  // NaN counts as bad
    if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << actual.size() << " entries off; worst ["
                     << worst << "] got " << actual[worst] << " want " << expected[worst]
                     << " (tol " << tol << ", scale " << scale << ")";
}

// A gradient buffer as a backward finds it: random for one that adds (the test subtracts it
// afterwards), NaN for one that writes (reading it would poison the result).
Vec prefilled(size_t n, bool adds, uint64_t seed) {
  return adds ? random_vector(n, seed, 3.0) : Vec(n, kNaN);
}
Vec prefilled(size_t n, Accumulate accumulate, uint64_t seed) {
  return prefilled(n, accumulate == Accumulate::yes, seed);
}

std::string shape_name(std::initializer_list<int64_t> dims) {
  std::string s;
  for (const int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// Large shapes (the OpenMP paths) are checked by finite differences on a sample of entries only;
// each check costs two forward passes.
constexpr size_t kSampledChecks = 40;
size_t fd_checks(size_t work) { return work > 4096 ? kSampledChecks : size_t(1) << 30; }

// ================================================================================= norms

struct NormShape {
  int64_t rows, cols;
  double eps;
};
// Odd widths, a single column, a large eps (so a misplaced eps shows), and one shape over the
// OpenMP threshold (rows * cols >= 2^14).
const NormShape kNormShapes[] = {{3, 7, 1e-5}, {2, 16, 1e-2}, {5, 1, 1e-5}, {1, 9, 0.3}};
const NormShape kLargeNorm = {300, 64, 1e-5};

// Forward multipliers of the gain and the bias (kernels/scaled_vector.h): none, and non-unit.
struct NormMults {
  double gain, bias;
};
const NormMults kNormMults[] = {{1, 1}, {1.3, 0.6}};
// The backward runs the same code for any multiplier, so its finite-difference checks (the
// costly part) take the non-unit one only.
const NormMults kBackwardMults = kNormMults[1];
std::string mults_name(const NormMults& m) {
  return " gain x" + std::to_string(m.gain) + " bias x" + std::to_string(m.bias);
}

void layernorm_reference(Vec& out, Vec& mean, Vec& rstd, const Vec& x, const Vec& gain,
                         const Vec& bias, const NormMults& mults, int64_t rows, int64_t cols,
                         double eps) {
  out.assign(size_t(rows * cols), 0);
  mean.assign(size_t(rows), 0);
  rstd.assign(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) m += x[r * cols + c];
    m /= double(cols);
    for (int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - m) * (x[r * cols + c] - m);
    var /= double(cols);
    const double s = 1 / std::sqrt(var + eps);
    mean[r] = m;
    rstd[r] = s;
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] =
          (x[r * cols + c] - m) * s * mults.gain * gain[c] + mults.bias * bias[c];
  }
}

// gain empty = RMSNorm without affine weights.
void rmsnorm_reference(Vec& out, Vec& rstd, const Vec& x, const Vec& gain, double gain_mult,
                       int64_t rows, int64_t cols, double eps) {
  out.assign(size_t(rows * cols), 0);
  rstd.assign(size_t(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t c = 0; c < cols; ++c) ms += x[r * cols + c] * x[r * cols + c];
    ms /= double(cols);
    const double s = 1 / std::sqrt(ms + eps);
    rstd[r] = s;
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = x[r * cols + c] * s * (gain.empty() ? 1.0 : gain_mult * gain[c]);
  }
}

struct NormRun {
  Vec out, mean, rstd;
};

template <typename T>
NormRun layernorm_run(const Vec& x, const Vec& gain, const Vec& bias, const NormMults& mults,
                      const NormShape& s) {
  auto xt = as<T>(x), gt = as<T>(gain), bt = as<T>(bias);
  std::vector<T> out(x.size(), T(kNaN)), mean(size_t(s.rows), T(kNaN)), rstd(mean);
  layernorm_forward<T>(out.data(), mean.data(), rstd.data(), xt.data(),
                       {gt.data(), nullptr, T(mults.gain)}, {bt.data(), nullptr, T(mults.bias)},
                       s.rows, s.cols, s.eps);
  return {widen(out), widen(mean), widen(rstd)};
}

template <typename T>
NormRun rmsnorm_run(const Vec& x, const Vec& gain, double gain_mult, const NormShape& s) {
  auto xt = as<T>(x), gt = as<T>(gain);
  std::vector<T> out(x.size(), T(kNaN)), rstd(size_t(s.rows), T(kNaN));
  const ScaledVector<T> g =
      gain.empty() ? ScaledVector<T>{} : ScaledVector<T>{gt.data(), nullptr, T(gain_mult)};
  rmsnorm_forward<T>(out.data(), rstd.data(), xt.data(), g, s.rows, s.cols, s.eps);
  return {widen(out), {}, widen(rstd)};
}

struct NormInputs {
  Vec x, gain, bias, g;
};
NormInputs norm_inputs(const NormShape& s, uint64_t seed) {
  const size_t n = size_t(s.rows * s.cols), c = size_t(s.cols);
  // A non-zero mean and gains away from one, so a dropped mean or gain term shows.
  return {shifted(random_vector(n, seed, 1.5), 0.4), shifted(random_vector(c, seed + 1, 0.5), 1.0),
          random_vector(c, seed + 2, 0.5), random_vector(n, seed + 3)};
}

TEST(LayerNorm, ForwardMatchesReference) {
  for (const NormMults& m : kNormMults)
    for (const NormShape& s : kNormShapes) {
      const std::string name = shape_name({s.rows, s.cols}) + mults_name(m);
      const NormInputs in = norm_inputs(s, 1);
      NormRun want;
      layernorm_reference(want.out, want.mean, want.rstd, in.x, in.gain, in.bias, m, s.rows,
                          s.cols, s.eps);
      const NormRun d = layernorm_run<double>(in.x, in.gain, in.bias, m, s);
      expect_all_near(d.out, want.out, kDoubleTol, "double out " + name);
      expect_all_near(d.mean, want.mean, kDoubleTol, "double mean " + name);
      expect_all_near(d.rstd, want.rstd, kDoubleTol, "double rstd " + name);

      const Vec xf = float_rounded(in.x), gf = float_rounded(in.gain), bf = float_rounded(in.bias);
      layernorm_reference(want.out, want.mean, want.rstd, xf, gf, bf, m, s.rows, s.cols, s.eps);
      const NormRun f = layernorm_run<float>(xf, gf, bf, m, s);
      expect_all_near(f.out, want.out, kFloatTol, "float out " + name);
      expect_all_near(f.rstd, want.rstd, kFloatTol, "float rstd " + name);
    }
}

// Backward adds into dx, dgain and dbias (the stored gain and bias: each gradient carries its
// multiplier); checked against finite differences of the forward.
void check_layernorm_backward(const NormShape& s, const NormMults& m, size_t max_checks) {
  const std::string name = "layernorm " + shape_name({s.rows, s.cols}) + mults_name(m);
  NormInputs in = norm_inputs(s, 7);
  const NormRun fwd = layernorm_run<double>(in.x, in.gain, in.bias, m, s);
  const Vec dx0 = prefilled(in.x.size(), true, 11), dgain0 = prefilled(in.gain.size(), true, 12),
            dbias0 = prefilled(in.bias.size(), true, 13);
  Vec dx = dx0, dgain = dgain0, dbias = dbias0;
  layernorm_backward<double>(dx.data(), {in.gain.data(), dgain.data(), m.gain},
                             {in.bias.data(), dbias.data(), m.bias}, in.g.data(), in.x.data(),
                             fwd.mean.data(), fwd.rstd.data(), s.rows, s.cols);
  const auto f = [&] { return layernorm_run<double>(in.x, in.gain, in.bias, m, s).out; };
  check_vjp(f, in.g, in.x, minus(dx, dx0), name + " dx", max_checks);
  check_vjp(f, in.g, in.gain, minus(dgain, dgain0), name + " dgain", max_checks);
  check_vjp(f, in.g, in.bias, minus(dbias, dbias0), name + " dbias", max_checks);

  // The float backward agrees with the double one on the same rounded inputs.
  const Vec xf = float_rounded(in.x), gainf = float_rounded(in.gain), gf = float_rounded(in.g);
  const NormRun want_fwd = layernorm_run<double>(xf, gainf, in.bias, m, s);
  Vec want_dx(xf.size(), 0), want_dgain(gainf.size(), 0), want_dbias(gainf.size(), 0);
  layernorm_backward<double>(want_dx.data(), {gainf.data(), want_dgain.data(), m.gain},
                             {nullptr, want_dbias.data(), m.bias}, gf.data(), xf.data(),
                             want_fwd.mean.data(), want_fwd.rstd.data(), s.rows, s.cols);
  const NormRun ff = layernorm_run<float>(xf, gainf, in.bias, m, s);
  auto x32 = as<float>(xf), gain32 = as<float>(gainf), g32 = as<float>(gf),
       mean32 = as<float>(ff.mean), rstd32 = as<float>(ff.rstd);
  std::vector<float> dx32(xf.size(), 0), dgain32(gainf.size(), 0), dbias32(gainf.size(), 0);
  layernorm_backward<float>(dx32.data(), {gain32.data(), dgain32.data(), float(m.gain)},
                            {nullptr, dbias32.data(), float(m.bias)}, g32.data(), x32.data(),
                            mean32.data(), rstd32.data(), s.rows, s.cols);
  // dx is rstd * (a difference of terms of size |g gain|): with one column it cancels to zero
  // exactly in double but leaves float rounding (FMA contraction) times rstd.
  const double dx_terms = max_abs(want_fwd.rstd) * max_abs(gf) * max_abs(gainf) * m.gain;
  expect_all_near(widen(dx32), want_dx, kFloatBackwardTol, name + " float dx", dx_terms);
  expect_all_near(widen(dgain32), want_dgain, kFloatBackwardTol, name + " float dgain");
  expect_all_near(widen(dbias32), want_dbias, kFloatBackwardTol, name + " float dbias");
}

TEST(LayerNorm, BackwardAddsFiniteDifferenceGradient) {
  const NormMults& m = kBackwardMults;
  for (const NormShape& s : kNormShapes)
    check_layernorm_backward(s, m, fd_checks(size_t(s.rows * s.cols)));
  check_layernorm_backward(kLargeNorm, m, fd_checks(size_t(kLargeNorm.rows * kLargeNorm.cols)));
}

TEST(RmsNorm, ForwardMatchesReferenceWithAndWithoutGain) {
  for (const NormMults& m : kNormMults)
    for (const bool with_gain : {true, false})
      for (const NormShape& s : kNormShapes) {
        const std::string name = shape_name({s.rows, s.cols}) +
                                 (with_gain ? " gain x" + std::to_string(m.gain) : " no gain");
        const NormInputs in = norm_inputs(s, 2);
        const Vec gain = with_gain ? in.gain : Vec{};
        NormRun want;
        rmsnorm_reference(want.out, want.rstd, in.x, gain, m.gain, s.rows, s.cols, s.eps);
        const NormRun d = rmsnorm_run<double>(in.x, gain, m.gain, s);
        expect_all_near(d.out, want.out, kDoubleTol, "double out " + name);
        expect_all_near(d.rstd, want.rstd, kDoubleTol, "double rstd " + name);

        const Vec xf = float_rounded(in.x), gf = float_rounded(gain);
        rmsnorm_reference(want.out, want.rstd, xf, gf, m.gain, s.rows, s.cols, s.eps);
        const NormRun f = rmsnorm_run<float>(xf, gf, m.gain, s);
        expect_all_near(f.out, want.out, kFloatTol, "float out " + name);
        expect_all_near(f.rstd, want.rstd, kFloatTol, "float rstd " + name);
      }
}

template <typename T>
ScaledVector<T> optional_gain(bool present, const T* value, T* grad, double mult) {
  return present ? ScaledVector<T>{value, grad, T(mult)} : ScaledVector<T>{};
}

// Backward adds into dx and dgain (times the gain's multiplier); without a gain (qk-norm) there
// is no dgain.
void check_rmsnorm_backward(const NormShape& s, bool with_gain, double gain_mult,
                            size_t max_checks) {
  const std::string name = "rmsnorm " + shape_name({s.rows, s.cols}) +
                           (with_gain ? " gain x" + std::to_string(gain_mult) : " no gain");
  NormInputs in = norm_inputs(s, 17);
  if (!with_gain) in.gain.clear();
  const NormRun fwd = rmsnorm_run<double>(in.x, in.gain, gain_mult, s);
  const Vec dx0 = prefilled(in.x.size(), true, 21), dgain0 = prefilled(in.gain.size(), true, 22);
  Vec dx = dx0, dgain = dgain0;
  const auto gain_of = [&](auto* value, auto* grad, double mult) {
    return optional_gain(with_gain, value, grad, mult);
  };
  rmsnorm_backward<double>(dx.data(), gain_of(in.gain.data(), dgain.data(), gain_mult),
                           in.g.data(), in.x.data(), fwd.rstd.data(), s.rows, s.cols);
  const auto f = [&] { return rmsnorm_run<double>(in.x, in.gain, gain_mult, s).out; };
  check_vjp(f, in.g, in.x, minus(dx, dx0), name + " dx", max_checks);
  if (with_gain) check_vjp(f, in.g, in.gain, minus(dgain, dgain0), name + " dgain", max_checks);

  const Vec xf = float_rounded(in.x), gainf = float_rounded(in.gain), gf = float_rounded(in.g);
  const NormRun want_fwd = rmsnorm_run<double>(xf, gainf, gain_mult, s);
  Vec want_dx(xf.size(), 0), want_dgain(gainf.size(), 0);
  rmsnorm_backward<double>(want_dx.data(), gain_of(gainf.data(), want_dgain.data(), gain_mult),
                           gf.data(), xf.data(), want_fwd.rstd.data(), s.rows, s.cols);
  const NormRun ff = rmsnorm_run<float>(xf, gainf, gain_mult, s);
  auto x32 = as<float>(xf), gain32 = as<float>(gainf), g32 = as<float>(gf),
       rstd32 = as<float>(ff.rstd);
  std::vector<float> dx32(xf.size(), 0), dgain32(gainf.size(), 0);
  rmsnorm_backward<float>(dx32.data(), gain_of(gain32.data(), dgain32.data(), gain_mult),
                          g32.data(), x32.data(), rstd32.data(), s.rows, s.cols);
  const double dx_terms =
      max_abs(want_fwd.rstd) * max_abs(gf) * (with_gain ? max_abs(gainf) * gain_mult : 1.0);
  expect_all_near(widen(dx32), want_dx, kFloatBackwardTol, name + " float dx", dx_terms);
  if (with_gain) expect_all_near(widen(dgain32), want_dgain, kFloatBackwardTol, name + " float dgain");
}

TEST(RmsNorm, BackwardAddsFiniteDifferenceGradient) {
  const double gain_mult = kBackwardMults.gain;
  for (const bool with_gain : {true, false}) {
    for (const NormShape& s : kNormShapes)
      check_rmsnorm_backward(s, with_gain, gain_mult, fd_checks(size_t(s.rows * s.cols)));
    check_rmsnorm_backward(kLargeNorm, with_gain, gain_mult,
                           fd_checks(size_t(kLargeNorm.rows * kLargeNorm.cols)));
  }
}

// ============================================================================ activations

double gelu_reference(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double silu_reference(double x) { return x / (1 + std::exp(-x)); }

// Values across the interesting range: around zero, the bend, and saturation on both sides.
Vec activation_inputs(size_t n, uint64_t seed) {
  Vec x = random_vector(n, seed, 4.0);
  if (n > 3) x[0] = 0, x[1] = 9.5, x[2] = -9.5;
  return x;
}

template <typename T>
Vec gelu_run(const Vec& x) {
  auto xt = as<T>(x);
  std::vector<T> out(x.size(), T(kNaN));
  gelu_forward<T>(out.data(), xt.data(), int64_t(x.size()));
  return widen(out);
}

template <typename T>
Vec swiglu_run(const Vec& in, int64_t rows, int64_t F) {
  auto it = as<T>(in);
  std::vector<T> out(size_t(rows * F), T(kNaN));
  swiglu_forward<T>(out.data(), it.data(), rows, F);
  return widen(out);
}

Vec swiglu_reference(const Vec& in, int64_t rows, int64_t F) {
  Vec out(size_t(rows * F));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < F; ++j)
      out[r * F + j] = silu_reference(in[r * 2 * F + j]) * in[r * 2 * F + F + j];
  return out;
}

const int64_t kGeluSizes[] = {1, 37, 20000};  // the last takes the OpenMP path

TEST(Gelu, ForwardMatchesTanhFormReference) {
  for (const int64_t n : kGeluSizes) {
    const Vec x = activation_inputs(size_t(n), 3);
    Vec want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = gelu_reference(x[i]);
    expect_all_near(gelu_run<double>(x), want, kDoubleTol, "double n=" + std::to_string(n));
    const Vec xf = float_rounded(x);
    for (size_t i = 0; i < x.size(); ++i) want[i] = gelu_reference(xf[i]);
    expect_all_near(gelu_run<float>(xf), want, kFloatTol, "float n=" + std::to_string(n));
  }
}

TEST(Gelu, BiasGeluEqualsBiasThenGelu) {
  const int64_t rows = 300, F = 70;  // takes the OpenMP path; F leaves a vector tail
  const Vec x = activation_inputs(size_t(rows * F), 21), bias = random_vector(size_t(F), 22);
  // The bias's forward multiplier; a power of two, so the products are exact and the bits
  // compare whether or not either side fuses the multiply-add.
  const double bias_mult = 2.0;
  Vec pre = x, want_pre = x;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < F; ++c) want_pre[r * F + c] += bias_mult * bias[c];
  Vec out(x.size(), kNaN);
  bias_gelu_forward<double>(out.data(), pre.data(), {bias.data(), nullptr, bias_mult}, rows, F);
  EXPECT_EQ(pre, want_pre);
  EXPECT_EQ(out, gelu_run<double>(want_pre));
  auto pre32 = as<float>(x), bias32 = as<float>(bias);
  std::vector<float> out32(x.size());
  bias_gelu_forward<float>(out32.data(), pre32.data(), {bias32.data(), nullptr, float(bias_mult)},
                          rows, F);
  std::vector<float> want32 = as<float>(x), gelu32(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < F; ++c)
      want32[size_t(r * F + c)] += float(bias_mult) * bias32[size_t(c)];
  gelu_forward<float>(gelu32.data(), want32.data(), rows * F);
  EXPECT_EQ(pre32, want32);
  EXPECT_EQ(out32, gelu32);
}

TEST(Gelu, BackwardWritesFiniteDifferenceGradient) {
  for (const int64_t n : kGeluSizes) {
    Vec x = activation_inputs(size_t(n), 4);
    const Vec g = random_vector(x.size(), 5);
    Vec din = prefilled(x.size(), false, 0);
    gelu_backward<double>(din.data(), g.data(), x.data(), n);
    check_vjp([&] { return gelu_run<double>(x); }, g, x, din, "gelu n=" + std::to_string(n),
              fd_checks(size_t(n)));

    auto x32 = as<float>(x), g32 = as<float>(g);
    std::vector<float> din32(x.size(), 0);
    gelu_backward<float>(din32.data(), g32.data(), x32.data(), n);
    Vec want(x.size());
    const Vec xf = float_rounded(x), gf = float_rounded(g);
    gelu_backward<double>(want.data(), gf.data(), xf.data(), n);
    expect_all_near(widen(din32), want, kFloatTol, "float gelu backward n=" + std::to_string(n));
  }
}

struct SwigluShape {
  int64_t rows, F;
};
const SwigluShape kSwigluShapes[] = {{3, 5}, {1, 1}, {4, 8}, {64, 300}};  // last: OpenMP path

TEST(Swiglu, ForwardMatchesReference) {
  for (const SwigluShape& s : kSwigluShapes) {
    const std::string name = shape_name({s.rows, s.F});
    const Vec in = activation_inputs(size_t(s.rows * 2 * s.F), 6);
    expect_all_near(swiglu_run<double>(in, s.rows, s.F), swiglu_reference(in, s.rows, s.F),
                    kDoubleTol, "double " + name);
    const Vec inf = float_rounded(in);
    expect_all_near(swiglu_run<float>(inf, s.rows, s.F), swiglu_reference(inf, s.rows, s.F),
                    kFloatTol, "float " + name);
  }
}

TEST(Swiglu, BackwardWritesFiniteDifferenceGradient) {
  for (const SwigluShape& s : kSwigluShapes) {
    const std::string name = "swiglu " + shape_name({s.rows, s.F});
    Vec in = activation_inputs(size_t(s.rows * 2 * s.F), 7);
    const Vec g = random_vector(size_t(s.rows * s.F), 8);
    Vec din = prefilled(in.size(), false, 0);
    swiglu_backward<double>(din.data(), g.data(), in.data(), s.rows, s.F);
    check_vjp([&] { return swiglu_run<double>(in, s.rows, s.F); }, g, in, din, name,
              fd_checks(size_t(s.rows * s.F)));

    auto in32 = as<float>(in), g32 = as<float>(g);
    std::vector<float> din32(in.size(), 0);
    swiglu_backward<float>(din32.data(), g32.data(), in32.data(), s.rows, s.F);
    const Vec inf = float_rounded(in), gf = float_rounded(g);
    Vec want(in.size());
    swiglu_backward<double>(want.data(), gf.data(), inf.data(), s.rows, s.F);
    expect_all_near(widen(din32), want, kFloatTol, name + " float");
  }
}

// ============================================================================== attention

struct AttentionShape {
  int64_t B, T, H, d;
  double scale;
};
// T = 1 (a single visible key), odd head dims, one head, d = 1, and both usual logit scales;
// the last three span many query strips (kAttentionStrip = 12), with and without a partial last
// strip, and heads wide enough for several vector registers.
const AttentionShape kAttentionShapes[] = {
    {1, 1, 1, 4, 0.25},     {2, 1, 3, 2, 0.5},    {2, 5, 3, 4, 1 / std::sqrt(4.0)},
    {1, 7, 2, 3, 1.0 / 3},  {3, 4, 1, 5, 0.7},    {2, 6, 4, 1, 1.3},
    {1, 48, 2, 3, 0.4},     {2, 65, 1, 17, 0.5},  {1, 150, 2, 40, 0.6},
};

struct AttentionRun {
  Vec out, probs;
};

// The textbook definition, one (sequence, head, query) at a time.
AttentionRun attention_reference(const Vec& q, const Vec& k, const Vec& v, const AttentionShape& s) {
  const int64_t N = s.H * s.d;
  AttentionRun r{Vec(q.size(), 0), Vec(size_t(s.B * s.H * s.T * s.T), 0)};
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t) {
        const auto at = [&](const Vec& m, int64_t pos, int64_t c) {
          return m[(b * s.T + pos) * N + h * s.d + c];
        };
        Vec logit(size_t(t + 1));
        for (int64_t j = 0; j <= t; ++j) {
          double qk = 0;
          for (int64_t c = 0; c < s.d; ++c) qk += at(q, t, c) * at(k, j, c);
          logit[j] = s.scale * qk;
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double z = 0;
        for (const double l : logit) z += std::exp(l - mx);
        double* prow = r.probs.data() + ((b * s.H + h) * s.T + t) * s.T;
        for (int64_t j = 0; j <= t; ++j) prow[j] = std::exp(logit[j] - mx) / z;
        for (int64_t c = 0; c < s.d; ++c) {
          double o = 0;
          for (int64_t j = 0; j <= t; ++j) o += prow[j] * at(v, j, c);
          r.out[(b * s.T + t) * N + h * s.d + c] = o;
        }
      }
  return r;
}

template <typename T>
AttentionRun attention_run(const Vec& q, const Vec& k, const Vec& v, const AttentionShape& s) {
  auto qt = as<T>(q), kt = as<T>(k), vt = as<T>(v);
  // out NaN-filled: the kernel must write every output. probs zero-filled, as the model keeps it:
  // the kernel leaves masked entries past each strip's corner alone, and must leave them zero.
  std::vector<T> out(q.size(), T(kNaN)), probs(size_t(s.B * s.H * s.T * s.T), T(0));
  attention_forward<T>(out.data(), probs.data(), qt.data(), kt.data(), vt.data(), s.B, s.T, s.H,
                       s.d, s.scale);
  return {widen(out), widen(probs)};
}

struct AttentionInputs {
  Vec q, k, v, g;
};
AttentionInputs attention_inputs(const AttentionShape& s, uint64_t seed) {
  const size_t n = size_t(s.B * s.T * s.H * s.d);
  // q larger than k so the softmax is far from uniform.
  return {random_vector(n, seed, 2.0), random_vector(n, seed + 1), random_vector(n, seed + 2),
          random_vector(n, seed + 3)};
}

std::string attention_name(const AttentionShape& s) {
  return "B,T,H,d=" + shape_name({s.B, s.T, s.H, s.d});
}

TEST(Attention, ForwardMatchesReference) {
  for (const AttentionShape& s : kAttentionShapes) {
    const AttentionInputs in = attention_inputs(s, 31);
    const AttentionRun want = attention_reference(in.q, in.k, in.v, s);
    const AttentionRun d = attention_run<double>(in.q, in.k, in.v, s);
    expect_all_near(d.out, want.out, kDoubleTol, "double out " + attention_name(s));
    expect_all_near(d.probs, want.probs, kDoubleTol, "double probs " + attention_name(s));

    const Vec qf = float_rounded(in.q), kf = float_rounded(in.k), vf = float_rounded(in.v);
    const AttentionRun wantf = attention_reference(qf, kf, vf, s);
    const AttentionRun f = attention_run<float>(qf, kf, vf, s);
    expect_all_near(f.out, wantf.out, kFloatTol, "float out " + attention_name(s));
    expect_all_near(f.probs, wantf.probs, kFloatTol, "float probs " + attention_name(s));
  }
}

TEST(Attention, BackwardWritesFiniteDifferenceGradient) {
  for (const AttentionShape& s : kAttentionShapes) {
    const std::string name = attention_name(s);
    AttentionInputs in = attention_inputs(s, 41);
    const AttentionRun fwd = attention_run<double>(in.q, in.k, in.v, s);
    Vec dq = prefilled(in.q.size(), false, 0), dk = dq, dv = dq;
    attention_backward<double>(dq.data(), dk.data(), dv.data(), in.g.data(), in.q.data(),
                               in.k.data(), in.v.data(), fwd.probs.data(), s.B, s.T, s.H, s.d,
                               s.scale);
    const auto f = [&] { return attention_run<double>(in.q, in.k, in.v, s).out; };
    const size_t checks = fd_checks(size_t(s.B * s.T * s.T * s.H * s.d));
    check_vjp(f, in.g, in.q, dq, name + " dq", checks);
    check_vjp(f, in.g, in.k, dk, name + " dk", checks);
    check_vjp(f, in.g, in.v, dv, name + " dv", checks);

    const Vec qf = float_rounded(in.q), kf = float_rounded(in.k), vf = float_rounded(in.v),
              gf = float_rounded(in.g);
    const AttentionRun wf = attention_run<double>(qf, kf, vf, s);
    Vec want_dq(qf.size()), want_dk(qf.size()), want_dv(qf.size());
    attention_backward<double>(want_dq.data(), want_dk.data(), want_dv.data(), gf.data(),
                               qf.data(), kf.data(), vf.data(), wf.probs.data(), s.B, s.T, s.H,
                               s.d, s.scale);
    const AttentionRun ff = attention_run<float>(qf, kf, vf, s);
    auto q32 = as<float>(qf), k32 = as<float>(kf), v32 = as<float>(vf), g32 = as<float>(gf),
         p32 = as<float>(ff.probs);
    std::vector<float> dq32(qf.size()), dk32(qf.size()), dv32(qf.size());
    attention_backward<float>(dq32.data(), dk32.data(), dv32.data(), g32.data(), q32.data(),
                              k32.data(), v32.data(), p32.data(), s.B, s.T, s.H, s.d, s.scale);
    expect_all_near(widen(dq32), want_dq, kFloatBackwardTol, name + " float dq");
    expect_all_near(widen(dk32), want_dk, kFloatBackwardTol, name + " float dk");
    expect_all_near(widen(dv32), want_dv, kFloatBackwardTol, name + " float dv");
  }
}

TEST(Attention, FirstPositionSeesOnlyItself) {
  // Causality at its sharpest: query 0 attends to key 0 alone, whatever q and k are, so its
  // output is exactly v at position 0.
  const AttentionShape s{2, 4, 2, 3, 0.9};
  const AttentionInputs in = attention_inputs(s, 51);
  const AttentionRun r = attention_run<double>(in.q, in.k, in.v, s);
  const int64_t N = s.H * s.d;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t c = 0; c < N; ++c)
      EXPECT_DOUBLE_EQ(r.out[(b * s.T) * N + c], in.v[(b * s.T) * N + c]);
}

// ================================================================================== RoPE

struct RopeShape {
  int64_t B, seq, H, d;
  double base;
};
const RopeShape kRopeShapes[] = {
    {1, 1, 1, 2, 10000}, {2, 5, 3, 4, 10000}, {1, 6, 2, 6, 100}, {3, 4, 1, 8, 10},
    {4, 64, 4, 16, 10000},  // OpenMP path
};

// GPT-NeoX: coordinate i of a head pairs with i + d/2 and turns by t * base^(-2i/d).
Vec rope_reference(const Vec& x, const RopeShape& s) {
  const int64_t half = s.d / 2, N = s.H * s.d;
  Vec out(x);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.seq; ++t)
      for (int64_t h = 0; h < s.H; ++h)
        for (int64_t i = 0; i < half; ++i) {
          const double theta = double(t) / std::pow(s.base, double(2 * i) / double(s.d));
          const int64_t lo = (b * s.seq + t) * N + h * s.d + i, hi = lo + half;
          out[lo] = x[lo] * std::cos(theta) - x[hi] * std::sin(theta);
          out[hi] = x[hi] * std::cos(theta) + x[lo] * std::sin(theta);
        }
  return out;
}

template <typename T>
Vec rope_run(const Vec& x, const RopeShape& s, bool backward = false) {
  const RopeTable<T> table = make_rope_table<T>(s.seq, s.d, s.base);
  auto xt = as<T>(x);
  if (backward)
    rope_backward<T>(xt.data(), table, s.B, s.H);
  else
    rope_forward<T>(xt.data(), table, s.B, s.H);
  return widen(xt);
}

std::string rope_name(const RopeShape& s) {
  return "B,T,H,d=" + shape_name({s.B, s.seq, s.H, s.d}) + " base " + std::to_string(s.base);
}

TEST(Rope, TableHoldsNeoXAngles) {
  const RopeShape s{1, 7, 1, 6, 500};
  const RopeTable<double> table = make_rope_table<double>(s.seq, s.d, s.base);
  ASSERT_EQ(table.seq, s.seq);
  ASSERT_EQ(table.half, s.d / 2);
  for (int64_t t = 0; t < s.seq; ++t)
    for (int64_t i = 0; i < s.d / 2; ++i) {
      const double theta = double(t) / std::pow(s.base, double(2 * i) / double(s.d));
      EXPECT_NEAR(table.cos[t * 3 + i], std::cos(theta), 1e-15);
      EXPECT_NEAR(table.sin[t * 3 + i], std::sin(theta), 1e-15);
    }
}

TEST(Rope, ForwardMatchesReference) {
  for (const RopeShape& s : kRopeShapes) {
    const Vec x = random_vector(size_t(s.B * s.seq * s.H * s.d), 61);
    expect_all_near(rope_run<double>(x, s), rope_reference(x, s), kDoubleTol,
                    "double " + rope_name(s));
    const Vec xf = float_rounded(x);
    expect_all_near(rope_run<float>(xf, s), rope_reference(xf, s), kFloatTol,
                    "float " + rope_name(s));
  }
}

TEST(Rope, BackwardIsFiniteDifferenceGradientAndInvertsForward) {
  for (const RopeShape& s : kRopeShapes) {
    Vec x = random_vector(size_t(s.B * s.seq * s.H * s.d), 71);
    const Vec g = random_vector(x.size(), 72);
    // In place: the buffer holding d loss / d out holds d loss / d in afterwards.
    const Vec dx = rope_run<double>(g, s, true);
    check_vjp([&] { return rope_run<double>(x, s); }, g, x, dx, "rope " + rope_name(s),
              fd_checks(x.size()));
    // A rotation: backward (the inverse rotation) undoes forward.
    expect_all_near(rope_run<double>(rope_run<double>(x, s), s, true), x, kDoubleTol,
                    "rope inverse " + rope_name(s));
    expect_all_near(rope_run<float>(float_rounded(g), s, true),
                    rope_run<double>(float_rounded(g), s, true), kFloatTol,
                    "float rope backward " + rope_name(s));
  }
}

// ============================================================================= embeddings

struct EmbeddingShape {
  int64_t rows, N, vocab;
};
// rows > vocab forces repeated tokens (the backward must add, not overwrite); N = 70 spans two
// of the backward's 64-column blocks; the last shape takes the OpenMP path.
const EmbeddingShape kEmbeddingShapes[] = {{7, 5, 4}, {1, 1, 1}, {6, 70, 3}, {300, 70, 9}};

std::vector<int32_t> random_tokens(int64_t rows, int64_t vocab, uint64_t seed) {
  const Vec u = random_vector(size_t(rows), seed);
  std::vector<int32_t> tokens(static_cast<size_t>(rows));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = std::min<int32_t>(int32_t(vocab - 1), int32_t((u[i] + 1) / 2 * double(vocab)));
  return tokens;
}

template <typename T>
Vec embedding_run(const std::vector<int32_t>& tokens, const Vec& table, int64_t N, double mult) {
  auto tt = as<T>(table);
  std::vector<T> out(tokens.size() * size_t(N), T(kNaN));
  embedding_forward<T>(out.data(), tokens.data(), tt.data(), int64_t(tokens.size()), N, T(mult));
  return widen(out);
}

TEST(Embedding, LookupMatchesReferenceAndBackwardAdds) {
  const double mult = 0.7;
  for (const EmbeddingShape& s : kEmbeddingShapes) {
    const std::string name = shape_name({s.rows, s.N, s.vocab});
    const std::vector<int32_t> tokens = random_tokens(s.rows, s.vocab, 81);
    Vec table = random_vector(size_t(s.vocab * s.N), 82);
    Vec want(size_t(s.rows * s.N));
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.N; ++c) want[r * s.N + c] = mult * table[tokens[r] * s.N + c];
    expect_all_near(embedding_run<double>(tokens, table, s.N, mult), want, kDoubleTol,
                    "double " + name);
    const Vec tablef = float_rounded(table);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.N; ++c) want[r * s.N + c] = mult * tablef[tokens[r] * s.N + c];
    expect_all_near(embedding_run<float>(tokens, tablef, s.N, mult), want, kFloatTol,
                    "float " + name);

    const Vec g = random_vector(size_t(s.rows * s.N), 83);
    const Vec dtable0 = prefilled(table.size(), true, 84);
    Vec dtable = dtable0;
    embedding_backward<double>(dtable.data(), tokens.data(), g.data(), s.rows, s.N, mult);
    check_vjp([&] { return embedding_run<double>(tokens, table, s.N, mult); }, g, table,
              minus(dtable, dtable0), "embedding " + name,
              fd_checks(size_t(s.rows * s.N)));

    auto g32 = as<float>(g);
    std::vector<float> dtable32(table.size(), 0);
    Vec want_dtable(table.size(), 0);
    embedding_backward<float>(dtable32.data(), tokens.data(), g32.data(), s.rows, s.N,
                              float(mult));
    embedding_backward<double>(want_dtable.data(), tokens.data(), float_rounded(g).data(), s.rows,
                               s.N, mult);
    expect_all_near(widen(dtable32), want_dtable, kFloatTol, "float backward " + name);
  }
}

struct PositionShape {
  int64_t B, seq, N;
};
const PositionShape kPositionShapes[] = {{2, 5, 3}, {1, 1, 4}, {3, 40, 150}};  // last: OpenMP

template <typename T>
Vec positions_run(const Vec& out0, const Vec& pos, const PositionShape& s, double mult) {
  auto out = as<T>(out0);
  auto pt = as<T>(pos);
  add_positions<T>(out.data(), pt.data(), s.B, s.seq, s.N, T(mult));
  return widen(out);
}

TEST(Embedding, PositionsAddAndBackwardSumsOverSequences) {
  const double mult = 1.3;
  for (const PositionShape& s : kPositionShapes) {
    const std::string name = shape_name({s.B, s.seq, s.N});
    const Vec out0 = random_vector(size_t(s.B * s.seq * s.N), 91);  // add_positions adds to it
    Vec pos = random_vector(size_t(s.seq * s.N), 92);
    Vec want(out0);
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = 0; t < s.seq; ++t)
        for (int64_t c = 0; c < s.N; ++c) want[(b * s.seq + t) * s.N + c] += mult * pos[t * s.N + c];
    expect_all_near(positions_run<double>(out0, pos, s, mult), want, kDoubleTol, "double " + name);
    const Vec out0f = float_rounded(out0), posf = float_rounded(pos);
    Vec wantf(out0f);
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = 0; t < s.seq; ++t)
        for (int64_t c = 0; c < s.N; ++c)
          wantf[(b * s.seq + t) * s.N + c] += mult * posf[t * s.N + c];
    expect_all_near(positions_run<float>(out0f, posf, s, mult), wantf, kFloatTol, "float " + name);

    const Vec g = random_vector(out0.size(), 93);
    const Vec dpos0 = prefilled(pos.size(), true, 94);
    Vec dpos = dpos0;
    positions_backward<double>(dpos.data(), g.data(), s.B, s.seq, s.N, mult);
    check_vjp([&] { return positions_run<double>(out0, pos, s, mult); }, g, pos,
              minus(dpos, dpos0), "positions " + name,
              fd_checks(size_t(s.B * s.seq * s.N)));
  }
}

// =========================================================================== cross-entropy

struct XentShape {
  int64_t rows, V;
};
const XentShape kXentShapes[] = {{3, 7}, {1, 1}, {5, 50}, {100, 200}};  // last: OpenMP path

struct XentRun {
  Vec losses, probs;
};

// Stable by the usual max shift, which is exact in real arithmetic.
XentRun xent_reference(const Vec& logits, const std::vector<int32_t>& targets, int64_t V) {
  const int64_t rows = int64_t(targets.size());
  XentRun r{Vec(size_t(rows)), Vec(logits.size())};
  for (int64_t i = 0; i < rows; ++i) {
    const double* x = logits.data() + i * V;
    const double mx = *std::max_element(x, x + V);
    double z = 0;
    for (int64_t j = 0; j < V; ++j) z += std::exp(x[j] - mx);
    const double lse = mx + std::log(z);
    r.losses[i] = lse - x[targets[i]];
    for (int64_t j = 0; j < V; ++j) r.probs[i * V + j] = std::exp(x[j] - lse);
  }
  return r;
}

template <typename T>
XentRun xent_run(const Vec& logits, const std::vector<int32_t>& targets, int64_t V) {
  auto buf = as<T>(logits);
  std::vector<T> losses(targets.size(), T(kNaN));
  softmax_xent_forward<T>(losses.data(), buf.data(), targets.data(), int64_t(targets.size()), V);
  return {widen(losses), widen(buf)};
}

TEST(Xent, ForwardMatchesReferenceAndIsShiftInvariant) {
  for (const XentShape& s : kXentShapes) {
    const std::string name = shape_name({s.rows, s.V});
    const Vec logits = random_vector(size_t(s.rows * s.V), 101, 3.0);
    const std::vector<int32_t> targets = random_tokens(s.rows, s.V, 102);
    const XentRun want = xent_reference(logits, targets, s.V);
    const XentRun d = xent_run<double>(logits, targets, s.V);
    expect_all_near(d.losses, want.losses, kDoubleTol, "double losses " + name);
    expect_all_near(d.probs, want.probs, kDoubleTol, "double probs " + name);
    const Vec lf = float_rounded(logits);
    const XentRun wantf = xent_reference(lf, targets, s.V);
    const XentRun f = xent_run<float>(lf, targets, s.V);
    expect_all_near(f.losses, wantf.losses, kFloatTol, "float losses " + name);
    expect_all_near(f.probs, wantf.probs, kFloatTol, "float probs " + name);

    // Logits around 1000 would overflow a naive exp; the result must not change.
    const XentRun big = xent_run<double>(shifted(logits, 1000), targets, s.V);
    expect_all_near(big.losses, want.losses, 1e-10, "shifted losses " + name);
    expect_all_near(big.probs, want.probs, 1e-10, "shifted probs " + name);
    const Vec big_f = float_rounded(shifted(logits, 1000));
    const XentRun bigf = xent_run<float>(big_f, targets, s.V);
    expect_all_near(bigf.losses, xent_reference(big_f, targets, s.V).losses, kFloatTol,
                    "float shifted losses " + name);
  }
}

TEST(Xent, BackwardWritesFiniteDifferenceGradientAndMayAliasProbs) {
  const double scale = 0.37;  // the backward's one weight for every row (the model's 1/R)
  for (const XentShape& s : kXentShapes) {
    const std::string name = "xent " + shape_name({s.rows, s.V});
    Vec logits = random_vector(size_t(s.rows * s.V), 111, 3.0);
    const std::vector<int32_t> targets = random_tokens(s.rows, s.V, 112);
    const XentRun fwd = xent_run<double>(logits, targets, s.V);
    Vec dlogits = prefilled(logits.size(), false, 0);
    softmax_xent_backward<double>(dlogits.data(), fwd.probs.data(), targets.data(), s.rows, s.V,
                                  scale);
    // L = scale * sum of the row losses, i.e. <g, losses> with g = scale everywhere.
    const Vec g(size_t(s.rows), scale);
    check_vjp([&] { return xent_run<double>(logits, targets, s.V).losses; }, g, logits, dlogits,
              name, fd_checks(logits.size()));

    Vec in_place = fwd.probs;  // the model turns its probabilities into gradients in place
    softmax_xent_backward<double>(in_place.data(), in_place.data(), targets.data(), s.rows, s.V,
                                  scale);
    EXPECT_EQ(in_place, dlogits) << name << " in place";

    auto p32 = as<float>(fwd.probs);
    std::vector<float> d32(logits.size(), 0);
    softmax_xent_backward<float>(d32.data(), p32.data(), targets.data(), s.rows, s.V,
                                 float(scale));
    Vec want(logits.size());
    softmax_xent_backward<double>(want.data(), float_rounded(fwd.probs).data(), targets.data(),
                                  s.rows, s.V, scale);
    expect_all_near(widen(d32), want, kFloatTol, name + " float");
  }
}

// ================================================================================= linear

struct LinearShape {
  int64_t rows, in, out;
};
// Rows below 32 run as one zero-padded tail; 45 as 32 rows plus a padded tail of 13; 301 as
// 256 + 32 rows plus a tail of 13.
const LinearShape kLinearShapes[] = {{3, 4, 5},  {1, 1, 1},  {7, 13, 3},
                                     {2, 9, 1},  {45, 6, 7}, {301, 5, 3}};
// Big enough for oneDNN's blocked float kernels and OpenMP threads.
const LinearShape kLargeLinear = {64, 96, 80};

// The bias acts with its own multiplier (kernels/scaled_vector.h), non-unit in these tests.
constexpr double kBiasMult = 1.7;

Vec linear_reference(const Vec& out0, const Vec& x, const Vec& W, const Vec& bias,
                     const LinearShape& s, double mult, Accumulate accumulate) {
  Vec out = accumulate == Accumulate::yes ? out0 : Vec(size_t(s.rows * s.out), 0);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t o = 0; o < s.out; ++o) {
      double sum = 0;
      for (int64_t i = 0; i < s.in; ++i) sum += x[r * s.in + i] * W[i * s.out + o];
      out[r * s.out + o] += mult * sum + (bias.empty() ? 0.0 : kBiasMult * bias[o]);
    }
  return out;
}

template <typename T>
Vec linear_run(const Vec& out0, const Vec& x, const Vec& W, const Vec& bias, const LinearShape& s,
               double mult, Accumulate accumulate) {
  auto out = as<T>(out0), xt = as<T>(x), Wt = as<T>(W), bt = as<T>(bias);
  const ScaledVector<T> b = bias.empty() ? ScaledVector<T>{} : ScaledVector<T>{bt.data(), nullptr,
                                                                               T(kBiasMult)};
  linear_forward<T>(out.data(), xt.data(), Wt.data(), b, s.rows, s.in, s.out, T(mult), accumulate);
  return widen(out);
}

struct LinearInputs {
  Vec x, W, bias, g;
};
LinearInputs linear_inputs(const LinearShape& s, uint64_t seed) {
  return {random_vector(size_t(s.rows * s.in), seed), random_vector(size_t(s.in * s.out), seed + 1),
          random_vector(size_t(s.out), seed + 2), random_vector(size_t(s.rows * s.out), seed + 3)};
}

TEST(Linear, ForwardMatchesReferenceWritingOrAccumulating) {
  const double mult = 0.6;
  std::vector<LinearShape> shapes(std::begin(kLinearShapes), std::end(kLinearShapes));
  shapes.push_back(kLargeLinear);
  for (const LinearShape& s : shapes)
    for (const Accumulate accumulate : {Accumulate::no, Accumulate::yes})
      for (const bool with_bias : {false, true}) {
        const std::string name = shape_name({s.rows, s.in, s.out}) +
                                 (accumulate == Accumulate::yes ? " accumulate" : " write") +
                                 (with_bias ? " bias" : "");
        const LinearInputs in = linear_inputs(s, 121);
        const Vec bias = with_bias ? in.bias : Vec{};
        const Vec out0 = prefilled(size_t(s.rows * s.out), accumulate, 125);
        expect_all_near(linear_run<double>(out0, in.x, in.W, bias, s, mult, accumulate),
                        linear_reference(out0, in.x, in.W, bias, s, mult, accumulate), kDoubleTol,
                        "double " + name);
        const Vec xf = float_rounded(in.x), Wf = float_rounded(in.W), bf = float_rounded(bias),
                  out0f = float_rounded(out0);
        expect_all_near(linear_run<float>(out0f, xf, Wf, bf, s, mult, accumulate),
                        linear_reference(out0f, xf, Wf, bf, s, mult, accumulate), kFloatTol,
                        "float " + name);
      }
}

// dW and dbias add; dx writes, or adds with accumulate_dx.
void check_linear_backward(const LinearShape& s, Accumulate accumulate_dx, size_t max_checks) {
  const double mult = 0.6;
  const std::string name =
      "linear " + shape_name({s.rows, s.in, s.out}) + (accumulate_dx == Accumulate::yes ? " accumulate dx" : "");
  LinearInputs in = linear_inputs(s, 131);
  const Vec dx0 = prefilled(in.x.size(), accumulate_dx, 135),
            dW0 = prefilled(in.W.size(), true, 136), dbias0 = prefilled(in.bias.size(), true, 137);
  Vec dx = dx0, dW = dW0, dbias = dbias0;
  linear_backward<double>(dx.data(), dW.data(), {nullptr, dbias.data(), kBiasMult}, in.g.data(),
                          in.x.data(), in.W.data(), s.rows, s.in, s.out, mult, accumulate_dx);
  const Vec zeros(in.g.size(), 0);
  const auto f = [&] { return linear_run<double>(zeros, in.x, in.W, in.bias, s, mult, Accumulate::no); };
  check_vjp(f, in.g, in.x, accumulate_dx == Accumulate::yes ? minus(dx, dx0) : dx, name + " dx", max_checks);
  check_vjp(f, in.g, in.W, minus(dW, dW0), name + " dW", max_checks);
  check_vjp(f, in.g, in.bias, minus(dbias, dbias0), name + " dbias", max_checks);

  // Float (oneDNN) against double on the same rounded inputs.
  const Vec xf = float_rounded(in.x), Wf = float_rounded(in.W), gf = float_rounded(in.g);
  Vec want_dx(xf.size()), want_dW(Wf.size(), 0), want_db(in.bias.size(), 0);
  linear_backward<double>(want_dx.data(), want_dW.data(), {nullptr, want_db.data(), kBiasMult},
                          gf.data(), xf.data(), Wf.data(), s.rows, s.in, s.out, mult, Accumulate::no);
  auto x32 = as<float>(xf), W32 = as<float>(Wf), g32 = as<float>(gf);
  std::vector<float> dx32(xf.size(), NAN), dW32(Wf.size(), 0), db32(in.bias.size(), 0);
  linear_backward<float>(dx32.data(), dW32.data(), {nullptr, db32.data(), float(kBiasMult)},
                         g32.data(), x32.data(), W32.data(), s.rows, s.in, s.out, float(mult),
                         Accumulate::no);
  expect_all_near(widen(dx32), want_dx, kFloatTol, name + " float dx");
  expect_all_near(widen(dW32), want_dW, kFloatTol, name + " float dW");
  expect_all_near(widen(db32), want_db, kFloatTol, name + " float dbias");
}

TEST(Linear, BackwardMatchesFiniteDifferencesAndConventions) {
  for (const Accumulate accumulate_dx : {Accumulate::no, Accumulate::yes}) {
    for (const LinearShape& s : kLinearShapes)
      check_linear_backward(s, accumulate_dx, fd_checks(size_t(s.rows * s.in * s.out)));
    check_linear_backward(kLargeLinear, accumulate_dx,
                          fd_checks(size_t(kLargeLinear.rows * kLargeLinear.in * kLargeLinear.out)));
  }
}

TEST(Linear, NullOutputsAreSkippedAndZeroRowsIsANoOp) {
  const LinearShape s{4, 3, 5};
  const LinearInputs in = linear_inputs(s, 141);
  Vec dW(in.W.size(), 0), dW_ref(in.W.size(), 0), dx(in.x.size(), 0), db(in.bias.size(), 0);
  // Without dx and dbias (the router, the model's first projection) dW is unchanged.
  linear_backward<double>(nullptr, dW.data(), {}, in.g.data(), in.x.data(), in.W.data(), s.rows,
                          s.in, s.out, 0.5, Accumulate::no);
  linear_backward<double>(dx.data(), dW_ref.data(), {nullptr, db.data()}, in.g.data(),
                          in.x.data(), in.W.data(), s.rows, s.in, s.out, 0.5, Accumulate::no);
  EXPECT_EQ(dW, dW_ref);
  // An expert that received no tokens: nothing is read or written.
  Vec out(5, 3.0), dW0(in.W.size(), 2.0);
  linear_forward<double>(out.data(), nullptr, in.W.data(), {in.bias.data()}, 0, s.in, s.out,
                         0.5);
  linear_backward<double>(nullptr, dW0.data(), {}, nullptr, nullptr, in.W.data(), 0, s.in, s.out,
                          0.5, Accumulate::no);
  EXPECT_EQ(out, Vec(5, 3.0));
  EXPECT_EQ(dW0, Vec(in.W.size(), 2.0));
}

// ================================================================================ routing

// The K largest of score + bias_mult * bias, best first, ties to the lower index: a stable sort
// by value.
template <typename T>
std::vector<int32_t> topk_reference(const std::vector<T>& scores, const std::vector<T>& bias,
                                    int64_t rows, int64_t M, int64_t K, T bias_mult = 1) {
  std::vector<int32_t> out;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<T> value(static_cast<size_t>(M));
    for (int64_t e = 0; e < M; ++e)
      value[e] = scores[r * M + e] + (bias.empty() ? T(0) : bias_mult * bias[e]);
    std::vector<int32_t> idx(static_cast<size_t>(M));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return value[a] > value[b]; });
    out.insert(out.end(), idx.begin(), idx.begin() + K);
  }
  return out;
}

template <typename T>
std::vector<int32_t> topk_run(const std::vector<T>& scores, const std::vector<T>& bias,
                              int64_t rows, int64_t M, int64_t K, T bias_mult = 1) {
  std::vector<int32_t> selected(size_t(rows * K), -1);
  const ScaledVector<T> b =
      bias.empty() ? ScaledVector<T>{} : ScaledVector<T>{bias.data(), nullptr, bias_mult};
  topk_select<T>(selected.data(), scores.data(), b, rows, M, K);
  return selected;
}

// Multiples of 1/4 in a small range: many exact ties, and score + bias is exact in float too.
Vec quantized(size_t n, uint64_t seed, double range) {
  Vec v = random_vector(n, seed, range);
  for (double& x : v) x = std::round(x * 4) / 4;
  return v;
}

struct TopkShape {
  int64_t rows, M, K;
};
const TopkShape kTopkShapes[] = {{50, 8, 3}, {20, 6, 1}, {20, 6, 6}, {30, 5, 2}, {1, 1, 1},
                                 {2100, 8, 2}};  // last: OpenMP path

TEST(Routing, TopkMatchesStableSortWithTiesAndBias) {
  // The bias's multiplier is a power of two: score + 2 b is exact, in float too.
  const double bias_mult = 2.0;
  for (const TopkShape& s : kTopkShapes)
    for (const bool ties : {false, true})
      for (const bool with_bias : {false, true}) {
        const std::string name = shape_name({s.rows, s.M, s.K}) + (ties ? " ties" : "") +
                                 (with_bias ? " bias x2" : "");
        const size_t n = size_t(s.rows * s.M);
        // Negative values too (softmax scores plus a negative bias can be).
        const Vec scores = ties ? quantized(n, 151, 1.0) : random_vector(n, 151);
        const Vec bias = !with_bias ? Vec{}
                         : ties     ? quantized(size_t(s.M), 152, 0.5)
                                    : random_vector(size_t(s.M), 152, 0.5);
        EXPECT_EQ(topk_run(scores, bias, s.rows, s.M, s.K, bias_mult),
                  topk_reference(scores, bias, s.rows, s.M, s.K, bias_mult))
            << "double " << name;
        const auto sf = as<float>(scores), bf = as<float>(bias);
        EXPECT_EQ(topk_run(sf, bf, s.rows, s.M, s.K, float(bias_mult)),
                  topk_reference(sf, bf, s.rows, s.M, s.K, float(bias_mult)))
            << "float " << name;
      }
}

TEST(Routing, TopkHandPickedCases) {
  // All equal: the lowest indices, in order.
  EXPECT_EQ(topk_run(Vec{0.5, 0.5, 0.5, 0.5}, Vec{}, 1, 4, 3), (std::vector<int32_t>{0, 1, 2}));
  // A tie for second place goes to the lower index; the order is best first.
  EXPECT_EQ(topk_run(Vec{1, 2, 2, 1}, Vec{}, 1, 4, 2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(topk_run(Vec{1, 2, 2, 1}, Vec{}, 1, 4, 3), (std::vector<int32_t>{1, 2, 0}));
  EXPECT_EQ(topk_run(Vec{0.1, 0.2, 0.9, 0.3}, Vec{}, 1, 4, 4), (std::vector<int32_t>{2, 3, 1, 0}));
  // The bias steers: expert 1 has the lowest score but wins with its bias.
  EXPECT_EQ(topk_run(Vec{0.9, 0.1, 0.5}, Vec{0, 1, 0}, 1, 3, 1), (std::vector<int32_t>{1}));
  // The bias acts times its multiplier: 0.1 + 3 x 0.3 beats 0.9, 0.1 + 0.3 does not.
  EXPECT_EQ(topk_run(Vec{0.9, 0.1}, Vec{0, 0.3}, 1, 2, 1, 3.0), (std::vector<int32_t>{1}));
  EXPECT_EQ(topk_run(Vec{0.9, 0.1}, Vec{0, 0.3}, 1, 2, 1, 1.0), (std::vector<int32_t>{0}));
  // A bias that makes a tie: 0.5 + 0.25 == 0.75, and the lower index wins.
  EXPECT_EQ(topk_run(Vec{0.75, 0.5, 0.0}, Vec{0, 0.25, 0}, 1, 3, 1), (std::vector<int32_t>{0}));
  EXPECT_EQ(topk_run(Vec{0.5, 0.75, 0.0}, Vec{0.25, 0, 0}, 1, 3, 1), (std::vector<int32_t>{0}));
  // All negative values.
  EXPECT_EQ(topk_run(Vec{-3, -1, -2, -5}, Vec{}, 1, 4, 2), (std::vector<int32_t>{1, 2}));
  // Rows are independent.
  EXPECT_EQ(topk_run(Vec{1, 0, 0, 1}, Vec{}, 2, 2, 1), (std::vector<int32_t>{0, 1}));
}

struct Grouping {
  std::vector<int64_t> offsets;
  std::vector<int32_t> order, position;
};
Grouping group(const std::vector<int32_t>& selected, int64_t rows, int64_t M, int64_t K) {
  Grouping g{std::vector<int64_t>(size_t(M + 1), -1), std::vector<int32_t>(size_t(rows * K), -1),
             std::vector<int32_t>(size_t(rows * K), -1)};
  group_by_expert(g.offsets.data(), g.order.data(), g.position.data(), selected.data(), rows, M, K);
  return g;
}

// A realistic selection with at least one expert that nobody picks (its score is very low).
std::vector<int32_t> selection_with_idle_expert(int64_t rows, int64_t M, int64_t K, uint64_t seed) {
  Vec scores = random_vector(size_t(rows * M), seed);
  for (int64_t r = 0; r < rows; ++r) scores[r * M + M / 2] = -10;
  return topk_run(scores, Vec{}, rows, M, K);
}

TEST(Routing, GroupByExpertIsAStableCountingSort) {
  for (const TopkShape& s : {TopkShape{13, 5, 2}, TopkShape{1, 3, 1}, TopkShape{40, 8, 3},
                             TopkShape{9, 4, 4}}) {
    const std::string name = shape_name({s.rows, s.M, s.K});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 161)
                  : topk_run(random_vector(size_t(A), 161), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    EXPECT_EQ(g.offsets[0], 0) << name;
    EXPECT_EQ(g.offsets[s.M], A) << name;
    for (int64_t e = 0; e < s.M; ++e) {
      const int64_t count = std::count(selected.begin(), selected.end(), int32_t(e));
      EXPECT_EQ(g.offsets[e + 1] - g.offsets[e], count) << name << " expert " << e;
      for (int64_t p = g.offsets[e]; p < g.offsets[e + 1]; ++p) {
        EXPECT_EQ(selected[g.order[p]], e) << name << " position " << p;
        if (p > g.offsets[e]) {
          EXPECT_LT(g.order[p - 1], g.order[p]) << name << " not stable";
        }
      }
    }
    std::vector<int32_t> sorted_order = g.order;
    std::sort(sorted_order.begin(), sorted_order.end());
    std::vector<int32_t> identity(static_cast<size_t>(A));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(sorted_order, identity) << name << ": order is not a permutation";
    for (int64_t a = 0; a < A; ++a) EXPECT_EQ(g.order[g.position[a]], a) << name;
  }
}

template <typename T>
Vec gather_run(const Vec& src, const Grouping& g, int64_t rows, int64_t K, int64_t N) {
  auto st = as<T>(src);
  std::vector<T> dst(size_t(rows * K * N), T(kNaN));
  gather_assignments<T>(dst.data(), st.data(), g.order.data(), rows, K, N);
  return widen(dst);
}

template <typename T>
Vec combine_run(const Vec& dst0, const Vec& src, const Vec& weight, const Grouping& g,
                int64_t rows, int64_t K, int64_t N, Accumulate accumulate) {
  auto dst = as<T>(dst0), st = as<T>(src), wt = as<T>(weight);
  combine_assignments<T>(dst.data(), st.data(), weight.empty() ? nullptr : wt.data(),
                         g.position.data(), rows, K, N, accumulate);
  return widen(dst);
}

struct PermuteShape {
  int64_t rows, M, K, N;
};
const PermuteShape kPermuteShapes[] = {{13, 5, 2, 3}, {1, 1, 1, 1}, {7, 4, 4, 5},
                                       {300, 8, 2, 32}};  // last: OpenMP path

TEST(Routing, GatherAndCombineMatchReference) {
  for (const PermuteShape& s : kPermuteShapes) {
    const std::string name = shape_name({s.rows, s.M, s.K, s.N});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 171)
                  : topk_run(random_vector(size_t(s.rows * s.M), 171), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    const Vec x = random_vector(size_t(s.rows * s.N), 172);
    Vec want(size_t(A * s.N));
    for (int64_t p = 0; p < A; ++p)
      for (int64_t c = 0; c < s.N; ++c) want[p * s.N + c] = x[(g.order[p] / s.K) * s.N + c];
    EXPECT_EQ(gather_run<double>(x, g, s.rows, s.K, s.N), want) << "double gather " << name;
    EXPECT_EQ(gather_run<float>(float_rounded(x), g, s.rows, s.K, s.N),
              gather_run<double>(float_rounded(x), g, s.rows, s.K, s.N))
        << "float gather " << name;

    const Vec y = random_vector(size_t(A * s.N), 173), w = random_vector(size_t(A), 174);
    for (const Accumulate accumulate : {Accumulate::no, Accumulate::yes})
      for (const bool weighted : {false, true}) {
        const std::string what = name + (accumulate == Accumulate::yes ? " accumulate" : " write") +
                                 (weighted ? " weighted" : "");
        const Vec dst0 = prefilled(size_t(s.rows * s.N), accumulate, 175);
        const Vec weight = weighted ? w : Vec{};
        Vec expect = accumulate == Accumulate::yes ? dst0 : Vec(dst0.size(), 0);
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t k = 0; k < s.K; ++k) {
            const int64_t a = r * s.K + k;
            for (int64_t c = 0; c < s.N; ++c)
              expect[r * s.N + c] += (weighted ? w[a] : 1.0) * y[g.position[a] * s.N + c];
          }
        expect_all_near(combine_run<double>(dst0, y, weight, g, s.rows, s.K, s.N, accumulate),
                        expect, kDoubleTol, "double combine " + what);
        const Vec dst0f = float_rounded(dst0), yf = float_rounded(y), wf = float_rounded(weight);
        Vec expectf = accumulate == Accumulate::yes ? dst0f : Vec(dst0.size(), 0);
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t k = 0; k < s.K; ++k) {
            const int64_t a = r * s.K + k;
            for (int64_t c = 0; c < s.N; ++c)
              expectf[r * s.N + c] += (weighted ? wf[a] : 1.0) * yf[g.position[a] * s.N + c];
          }
        expect_all_near(combine_run<float>(dst0f, yf, wf, g, s.rows, s.K, s.N, accumulate),
                        expectf, kFloatTol, "float combine " + what);
      }
  }
}

TEST(Routing, GatherAndCombineAreAdjoint) {
  // The MoE backward uses combine (unweighted) as the backward of gather, and a gather-like
  // loop for the backward of combine: <gather x, y> = <x, combine y> must hold exactly up to
  // rounding, and with weights <combine_w y, x> = <w-scaled gather x, y>.
  for (const PermuteShape& s : kPermuteShapes) {
    const std::string name = shape_name({s.rows, s.M, s.K, s.N});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 181)
                  : topk_run(random_vector(size_t(s.rows * s.M), 181), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    const Vec x = random_vector(size_t(s.rows * s.N), 182), y = random_vector(size_t(A * s.N), 183),
              w = random_vector(size_t(A), 184);
    const Vec gx = gather_run<double>(x, g, s.rows, s.K, s.N);
    const Vec cy = combine_run<double>(Vec(x.size(), kNaN), y, Vec{}, g, s.rows, s.K, s.N, Accumulate::no);
    const double lhs = dot(gx, y), rhs = dot(x, cy);
    EXPECT_NEAR(lhs, rhs, 1e-12 * (std::abs(lhs) + double(A * s.N))) << name;

    Vec gx_w = gx;
    for (int64_t p = 0; p < A; ++p)
      for (int64_t c = 0; c < s.N; ++c) gx_w[p * s.N + c] *= w[g.order[p]];
    const Vec cy_w = combine_run<double>(Vec(x.size(), kNaN), y, w, g, s.rows, s.K, s.N, Accumulate::no);
    const double lhs_w = dot(cy_w, x), rhs_w = dot(gx_w, y);
    EXPECT_NEAR(lhs_w, rhs_w, 1e-12 * (std::abs(lhs_w) + double(A * s.N))) << name << " weighted";
  }
}

// ============================================================================== colsum

struct ColsumShape {
  int64_t rows, cols;
};
// The last two split their columns over threads (64 per block); 70 leaves a partial block.
const ColsumShape kColsumShapes[] = {{5, 3}, {1, 1}, {0, 4}, {500, 40}, {300, 200}, {400, 70}};

TEST(Colsum, AddsColumnSumsDeterministically) {
  for (const ColsumShape& s : kColsumShapes) {
    const std::string name = shape_name({s.rows, s.cols});
    const Vec x = random_vector(size_t(s.rows * s.cols), 191);
    const Vec acc0 = prefilled(size_t(s.cols), true, 192);
    Vec want = acc0;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) want[c] += x[r * s.cols + c];
    Vec acc = acc0;
    add_column_sums<double>(acc.data(), 1.0, x.data(), s.rows, s.cols);
    expect_all_near(acc, want, kDoubleTol, "double add_column_sums " + name);
    Vec again = acc0;
    add_column_sums<double>(again.data(), 1.0, x.data(), s.rows, s.cols);
    EXPECT_EQ(again, acc) << "not deterministic " << name;
    // A scale (a bias's forward multiplier) multiplies the sum, not the accumulator.
    Vec scaled = acc0;
    add_column_sums<double>(scaled.data(), 0.7, x.data(), s.rows, s.cols);
    for (int64_t c = 0; c < s.cols; ++c) want[c] = acc0[c] + 0.7 * (acc[c] - acc0[c]);
    expect_all_near(scaled, want, kDoubleTol, "double add_column_sums x 0.7 " + name);

    const Vec xf = float_rounded(x), acc0f = float_rounded(acc0);
    Vec wantf = acc0f;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) wantf[c] += xf[r * s.cols + c];
    auto x32 = as<float>(xf), acc32 = as<float>(acc0f);
    add_column_sums<float>(acc32.data(), 1.0f, x32.data(), s.rows, s.cols);
    // Sums of up to 500 terms of size ~1 in float.
    expect_all_near(widen(acc32), wantf, 1e-4, "float add_column_sums " + name);
    // Every column is summed over the rows in order, so the bits match the plain loop on any
    // number of threads.
    std::vector<float> plain = as<float>(acc0f);
    for (int64_t c = 0; c < s.cols; ++c) {
      float sum = 0;
      for (int64_t r = 0; r < s.rows; ++r) sum += x32[size_t(r * s.cols + c)];
      plain[size_t(c)] += sum;
    }
    EXPECT_EQ(acc32, plain) << "float add_column_sums order " << name;
  }
}

TEST(Colsum, AccumulateColumnsSumsCallbackValues) {
  for (const ColsumShape& s : kColsumShapes) {
    const std::string name = shape_name({s.rows, s.cols});
    const auto value = [](int64_t r, int64_t c) { return std::sin(double(3 * r + 7 * c + 1)); };
    const Vec acc0 = prefilled(size_t(s.cols), true, 193);
    Vec want = acc0;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) want[c] += value(r, c);
    Vec acc = acc0;
    accumulate_columns(acc.data(), 1.0, s.rows, s.cols, value);
    expect_all_near(acc, want, kDoubleTol, "accumulate_columns " + name);
    Vec scaled = acc0;
    accumulate_columns(scaled.data(), -1.5, s.rows, s.cols, value);
    for (int64_t c = 0; c < s.cols; ++c) want[c] = acc0[c] - 1.5 * (acc[c] - acc0[c]);
    expect_all_near(scaled, want, kDoubleTol, "accumulate_columns x -1.5 " + name);
  }
}

}  // namespace
}  // namespace moet
