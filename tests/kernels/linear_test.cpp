// The linear layer (kernels/linear.cpp): writing or accumulating, tails of rows, null outputs.
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

#include "../support/relative_error.h"
#include "kernel_check.h"
#include "kernels/linear.h"

namespace moet {
namespace {

using namespace testing;

struct LinearShape {
  int64_t rows, in, out;
};
// Rows below 32 run as one zero-padded tail; 45 as 32 rows plus a padded tail of 13; 301 as
// 256 + 32 rows plus a tail of 13.
const LinearShape kLinearShapes[] = {{3, 4, 5}, {1, 1, 1},  {7, 13, 3},
                                     {2, 9, 1}, {45, 6, 7}, {301, 5, 3}};
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
  const ScaledVector<T> b =
      bias.empty() ? ScaledVector<T>{} : ScaledVector<T>{bt.data(), nullptr, T(kBiasMult)};
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
  const std::string name = "linear " + shape_name({s.rows, s.in, s.out}) +
                           (accumulate_dx == Accumulate::yes ? " accumulate dx" : "");
  LinearInputs in = linear_inputs(s, 131);
  const Vec dx0 = prefilled(in.x.size(), accumulate_dx, 135),
            dW0 = prefilled(in.W.size(), true, 136), dbias0 = prefilled(in.bias.size(), true, 137);
  Vec dx = dx0, dW = dW0, dbias = dbias0;
  linear_backward<double>(dx.data(), dW.data(), {nullptr, dbias.data(), kBiasMult}, in.g.data(),
                          in.x.data(), in.W.data(), s.rows, s.in, s.out, mult, accumulate_dx);
  const Vec zeros(in.g.size(), 0);
  const auto f = [&] {
    return linear_run<double>(zeros, in.x, in.W, in.bias, s, mult, Accumulate::no);
  };
  check_vjp(f, in.g, in.x, accumulate_dx == Accumulate::yes ? minus(dx, dx0) : dx, name + " dx",
            max_checks);
  check_vjp(f, in.g, in.W, minus(dW, dW0), name + " dW", max_checks);
  check_vjp(f, in.g, in.bias, minus(dbias, dbias0), name + " dbias", max_checks);

  // Float (oneDNN) against double on the same rounded inputs.
  const Vec xf = float_rounded(in.x), Wf = float_rounded(in.W), gf = float_rounded(in.g);
  Vec want_dx(xf.size()), want_dW(Wf.size(), 0), want_db(in.bias.size(), 0);
  linear_backward<double>(want_dx.data(), want_dW.data(), {nullptr, want_db.data(), kBiasMult},
                          gf.data(), xf.data(), Wf.data(), s.rows, s.in, s.out, mult,
                          Accumulate::no);
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
    check_linear_backward(
        kLargeLinear, accumulate_dx,
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
  linear_backward<double>(dx.data(), dW_ref.data(), {nullptr, db.data()}, in.g.data(), in.x.data(),
                          in.W.data(), s.rows, s.in, s.out, 0.5, Accumulate::no);
  EXPECT_EQ(dW, dW_ref);
  // An expert that received no tokens: nothing is read or written.
  Vec out(5, 3.0), dW0(in.W.size(), 2.0);
  linear_forward<double>(out.data(), nullptr, in.W.data(), {in.bias.data()}, 0, s.in, s.out, 0.5);
  linear_backward<double>(nullptr, dW0.data(), {}, nullptr, nullptr, in.W.data(), 0, s.in, s.out,
                          0.5, Accumulate::no);
  EXPECT_EQ(out, Vec(5, 3.0));
  EXPECT_EQ(dW0, Vec(in.W.size(), 2.0));
}

std::vector<uint16_t> bf16_copy(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  float_to_bf16(v.data(), out.data(), int64_t(v.size()));
  return out;
}

// With W_bf16 every product rounds its operands to bf16 (x, W and dout; the bias and its
// gradient stay in float) and accumulates in fp32: the double layer on the rounded operands,
// within float accumulation, and farther than that from the unrounded layer (bf16 did run).
// Shapes: a padded tail alone, 256 + 32 rows and a tail, and oneDNN's blocked size.
TEST(Linear, Bf16PathIsTheLayerOnBf16RoundedOperands) {
  const double mult = 0.6;
  for (const LinearShape& s : {LinearShape{13, 6, 7}, LinearShape{301, 48, 40}, kLargeLinear}) {
    const std::string name = shape_name({s.rows, s.in, s.out});
    const LinearInputs in = linear_inputs(s, 171);
    const Vec xf = float_rounded(in.x), Wf = float_rounded(in.W), gf = float_rounded(in.g),
              bf = float_rounded(in.bias);
    const Vec xb = bf16_rounded(xf), Wb = bf16_rounded(Wf), gb = bf16_rounded(gf);
    const auto x32 = as<float>(xf), W32 = as<float>(Wf), g32 = as<float>(gf), b32 = as<float>(bf);
    const std::vector<uint16_t> W_bf16 = bf16_copy(W32);
    const Vec zeros(size_t(s.rows * s.out), 0);

    std::vector<float> out(zeros.size(), NAN);
    linear_forward<float>(out.data(), x32.data(), W32.data(),
                          {b32.data(), nullptr, float(kBiasMult)}, s.rows, s.in, s.out, float(mult),
                          Accumulate::no, W_bf16.data());
    const Vec want_out = linear_reference(zeros, xb, Wb, bf, s, mult, Accumulate::no);
    expect_all_near(widen(out), want_out, kFloatTol, "bf16 forward " + name);
    EXPECT_GT(
        relative_error(widen(out), linear_reference(zeros, xf, Wf, bf, s, mult, Accumulate::no)),
        1e-4)
        << "bf16 forward " << name;

    std::vector<float> dx(xf.size(), NAN), dW(Wf.size(), 0), db(bf.size(), 0);
    linear_backward<float>(dx.data(), dW.data(), {nullptr, db.data(), float(kBiasMult)}, g32.data(),
                           x32.data(), W32.data(), s.rows, s.in, s.out, float(mult), Accumulate::no,
                           W_bf16.data());
    Vec want_dx(xf.size()), want_dW(Wf.size(), 0), want_db(bf.size(), 0), exact_dx(xf.size()),
        exact_dW(Wf.size(), 0);
    linear_backward<double>(want_dx.data(), want_dW.data(), {}, gb.data(), xb.data(), Wb.data(),
                            s.rows, s.in, s.out, mult, Accumulate::no);
    linear_backward<double>(exact_dx.data(), exact_dW.data(), {nullptr, want_db.data(), kBiasMult},
                            gf.data(), xf.data(), Wf.data(), s.rows, s.in, s.out, mult,
                            Accumulate::no);
    expect_all_near(widen(dx), want_dx, kFloatTol, "bf16 dx " + name);
    expect_all_near(widen(dW), want_dW, kFloatTol, "bf16 dW " + name);
    expect_all_near(widen(db), want_db, kFloatTol, "bf16 dbias (float) " + name);
    EXPECT_GT(relative_error(widen(dx), exact_dx), 1e-4) << "bf16 dx " << name;
    EXPECT_GT(relative_error(widen(dW), exact_dW), 1e-4) << "bf16 dW " << name;
  }
}

// dx may be x (the MLP backward reuses its input's buffer): the same bits as a separate dx, in
// float and in bf16, over every kind of row part (256s, 32s, a padded tail).
TEST(Linear, BackwardIntoItsInputEqualsASeparateBuffer) {
  const LinearShape s{301, 48, 40};
  const LinearInputs in = linear_inputs(s, 181);
  const auto x = as<float>(in.x), W = as<float>(in.W), g = as<float>(in.g);
  const std::vector<uint16_t> W_bf16 = bf16_copy(W);
  for (const uint16_t* bf16 : {static_cast<const uint16_t*>(nullptr), W_bf16.data()}) {
    const std::string name = bf16 ? "bf16" : "float";
    std::vector<float> dx(x.size(), NAN), dW(W.size(), 0), in_place = x, dW_in_place(W.size(), 0);
    linear_backward<float>(dx.data(), dW.data(), {}, g.data(), x.data(), W.data(), s.rows, s.in,
                           s.out, 0.6f, Accumulate::no, bf16);
    linear_backward<float>(in_place.data(), dW_in_place.data(), {}, g.data(), in_place.data(),
                           W.data(), s.rows, s.in, s.out, 0.6f, Accumulate::no, bf16);
    EXPECT_EQ(in_place, dx) << name;
    EXPECT_EQ(dW_in_place, dW) << name;
  }
}

}  // namespace
}  // namespace moet
