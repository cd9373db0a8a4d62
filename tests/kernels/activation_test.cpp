// GELU, bias + GELU and SwiGLU (kernels/activation.cpp). Checked as kernel_check.h says: forward
// against a scalar reference, backward against finite differences in double, and the buffer
// convention of each backward.
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
#include "kernels/activation.h"

namespace moet {
namespace {

using namespace testing;

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

// The MLP backward overwrites its pre-activations with their gradients (din == in): the same
// bits as into a separate buffer, on a size that takes the vector path and OpenMP threads.
TEST(Activation, BackwardInPlaceEqualsASeparateBuffer) {
  const int64_t rows = 50, F = 400;
  const auto in = as<float>(activation_inputs(size_t(rows * 2 * F), 151));
  const auto dout = as<float>(random_vector(size_t(rows * F), 152));
  std::vector<float> din(in.size(), NAN), in_place = in;
  swiglu_backward<float>(din.data(), dout.data(), in.data(), rows, F);
  swiglu_backward<float>(in_place.data(), dout.data(), in_place.data(), rows, F);
  EXPECT_EQ(in_place, din) << "swiglu";

  const auto dout_gelu = as<float>(random_vector(in.size(), 153));
  std::vector<float> dgelu(in.size(), NAN), gelu_in_place = in;
  gelu_backward<float>(dgelu.data(), dout_gelu.data(), in.data(), int64_t(in.size()));
  gelu_backward<float>(gelu_in_place.data(), dout_gelu.data(), gelu_in_place.data(),
                       int64_t(in.size()));
  EXPECT_EQ(gelu_in_place, dgelu) << "gelu";
}

}  // namespace
}  // namespace moet
