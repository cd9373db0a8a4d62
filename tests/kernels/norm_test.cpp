// LayerNorm and RMSNorm (kernels/norm.cpp), with and without affine weights and multipliers.
// Checked as kernel_check.h says: forward against a scalar reference, backward against finite
// differences in double, and the buffer convention of each backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/norm.h"

namespace moet {
namespace {

using namespace testing;

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
      out[r * cols + c] = (x[r * cols + c] - m) * s * mults.gain * gain[c] + mults.bias * bias[c];
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
      layernorm_reference(want.out, want.mean, want.rstd, in.x, in.gain, in.bias, m, s.rows, s.cols,
                          s.eps);
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
  rmsnorm_backward<double>(dx.data(), gain_of(in.gain.data(), dgain.data(), gain_mult), in.g.data(),
                           in.x.data(), fwd.rstd.data(), s.rows, s.cols);
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
  if (with_gain)
    expect_all_near(widen(dgain32), want_dgain, kFloatBackwardTol, name + " float dgain");
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

// The residual add fused into the norm's pass (add_layernorm_forward, add_rmsnorm_forward) gives
// the same bits as the model's separate add followed by the norm, in float and double, over the
// OpenMP threshold too, with and without multipliers and a gain.
template <typename T>
void expect_fused_add_norm_same_bits(const NormShape& s, const NormMults& m, bool rms) {
  const std::string name =
      std::string(rms ? "rmsnorm " : "layernorm ") + shape_name({s.rows, s.cols}) + mults_name(m);
  const NormInputs in = norm_inputs(s, 21);
  const std::vector<T> a = as<T>(in.x), b = as<T>(in.g), gain = as<T>(in.gain),
                       bias = as<T>(in.bias);
  const size_t n = a.size(), rows = size_t(s.rows);
  const T scale = T(0.7);
  const ScaledVector<T> g{gain.data(), nullptr, T(m.gain)}, bv{bias.data(), nullptr, T(m.bias)};
  std::vector<T> x(n), out(n), mean(rows), rstd(rows);  // separate: add, then norm
  for (size_t i = 0; i < n; ++i) x[i] = a[i] + scale * b[i];
  std::vector<T> fx(n), fout(n), fmean(rows), frstd(rows);  // fused
  if (rms) {
    rmsnorm_forward<T>(out.data(), rstd.data(), x.data(), g, s.rows, s.cols, s.eps);
    add_rmsnorm_forward<T>(fx.data(), a.data(), b.data(), scale, fout.data(), frstd.data(), g,
                           s.rows, s.cols, s.eps);
  } else {
    layernorm_forward<T>(out.data(), mean.data(), rstd.data(), x.data(), g, bv, s.rows, s.cols,
                         s.eps);
    add_layernorm_forward<T>(fx.data(), a.data(), b.data(), scale, fout.data(), fmean.data(),
                             frstd.data(), g, bv, s.rows, s.cols, s.eps);
    EXPECT_EQ(fmean, mean) << name;
  }
  EXPECT_EQ(fx, x) << name;
  EXPECT_EQ(fout, out) << name;
  EXPECT_EQ(frstd, rstd) << name;
}

TEST(FusedResidualNorm, SameBitsAsAddThenNorm) {
  for (const NormMults& m : kNormMults)
    for (const NormShape& s : {kNormShapes[0], kNormShapes[1], kNormShapes[2], kLargeNorm})
      for (const bool rms : {false, true}) {
        expect_fused_add_norm_same_bits<float>(s, m, rms);
        expect_fused_add_norm_same_bits<double>(s, m, rms);
      }
}

}  // namespace
}  // namespace moet
