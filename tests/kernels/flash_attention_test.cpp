// The flash attention kernel (kernels/flash_attention.h) against the strip kernel it replaces
// (kernels/attention.h, itself checked against a textbook reference in attention_test.cpp):
// forward, logsumexp and backward in double to summation-order rounding; float against the double
// strip kernel on the same float-rounded inputs; and the backward against central finite
// differences of its own forward in double. Shapes cover T = 1, T not a multiple of either block
// (one, two and three key blocks, so the running max is rescaled), d_head 8/16/64 and an odd one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../support/fd.h"
#include "../support/relative_error.h"
#include "kernels/attention.h"
#include "kernels/flash_attention.h"

namespace moet {
namespace {

using testing::check_vjp;
using testing::random_vector;
using Vec = std::vector<double>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Double against double: only the summation order differs (blocks, online rescaling).
constexpr double kDoubleTol = 1e-12;
// Float flash against the double strip kernel on the same inputs: float rounding accumulated
// over a few hundred terms, relative to the output's largest entry (as attention_test.cpp holds
// the strip kernel's own float path).
constexpr double kFloatTol = 2e-5;
constexpr double kFloatBackwardTol = 1e-4;

struct Shape {
  int64_t B, T, H, d;
  double scale;
};
const Shape kShapes[] = {
    {1, 1, 1, 8, 0.125},    {2, 1, 3, 16, 0.25},       {2, 5, 3, 8, 1 / std::sqrt(8.0)},
    {1, 47, 2, 16, 0.3},    {2, 49, 1, 5, 0.5},        {2, 130, 2, 16, 0.25},
    {1, 300, 1, 64, 0.125}, {1, 256, 2, 64, 1.0 / 64},
};
static_assert(kFlashKeyBlock < 300 / 2, "the largest shape must span three key blocks");

std::string name(const Shape& s) {
  return "B,T,H,d=" + std::to_string(s.B) + "x" + std::to_string(s.T) + "x" + std::to_string(s.H) +
         "x" + std::to_string(s.d);
}

template <typename T>
std::vector<T> as(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
Vec widen(const std::vector<T>& v) {
  return Vec(v.begin(), v.end());
}
Vec float_rounded(const Vec& v) { return widen(as<float>(v)); }

using testing::relative_error;  // the floor: dq and dk at T = 1 are exactly zero

struct Inputs {
  Vec q, k, v, g;
};
Inputs inputs(const Shape& s, uint64_t seed) {
  const size_t n = size_t(s.B * s.T * s.H * s.d);
  // q larger than k so the softmax is far from uniform; k growing along the sequence so a later
  // key block often holds a row's new maximum (the rescaling path).
  Vec k = random_vector(n, seed + 1);
  for (size_t i = 0; i < n; ++i)
    k[i] *= 1 + 2 * double((i / size_t(s.H * s.d)) % size_t(s.T)) / double(s.T);
  return {random_vector(n, seed, 2.0), k, random_vector(n, seed + 2), random_vector(n, seed + 3)};
}

struct Strips {
  Vec out, probs, dq, dk, dv;
};
Strips strips(const Inputs& in, const Shape& s) {
  Strips r{Vec(in.q.size()), Vec(size_t(s.B * s.H * s.T * s.T), 0), Vec(in.q.size()),
           Vec(in.q.size()), Vec(in.q.size())};
  attention_forward<double>(r.out.data(), r.probs.data(), in.q.data(), in.k.data(), in.v.data(),
                            s.B, s.T, s.H, s.d, s.scale);
  attention_backward<double>(r.dq.data(), r.dk.data(), r.dv.data(), in.g.data(), in.q.data(),
                             in.k.data(), in.v.data(), r.probs.data(), s.B, s.T, s.H, s.d, s.scale);
  return r;
}

// The logsumexp of every (sequence, head, query) row, from the strip kernel's inputs.
Vec reference_lse(const Inputs& in, const Shape& s) {
  const int64_t N = s.H * s.d;
  Vec lse(size_t(s.B * s.H * s.T));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t) {
        Vec logit(size_t(t + 1));
        for (int64_t j = 0; j <= t; ++j) {
          double qk = 0;
          for (int64_t c = 0; c < s.d; ++c)
            qk += in.q[(b * s.T + t) * N + h * s.d + c] * in.k[(b * s.T + j) * N + h * s.d + c];
          logit[size_t(j)] = s.scale * qk;
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double z = 0;
        for (const double l : logit) z += std::exp(l - mx);
        lse[size_t((b * s.H + h) * s.T + t)] = mx + std::log(z);
      }
  return lse;
}

template <typename T>
struct Flash {
  Vec out, lse, dq, dk, dv;
};
// Every output NaN-filled first: each pass must write all of its outputs without reading them.
template <typename T>
Flash<T> flash(const Inputs& in, const Shape& s, bool backward = true) {
  const auto q = as<T>(in.q), k = as<T>(in.k), v = as<T>(in.v), g = as<T>(in.g);
  std::vector<T> out(q.size(), T(kNaN)), lse(size_t(s.B * s.H * s.T), T(kNaN));
  flash_attention_forward<T>(out.data(), lse.data(), q.data(), k.data(), v.data(), s.B, s.T, s.H,
                             s.d, s.scale);
  Flash<T> r{widen(out), widen(lse), {}, {}, {}};
  if (!backward) return r;
  std::vector<T> dq(q.size(), T(kNaN)), dk = dq, dv = dq;
  flash_attention_backward<T>(dq.data(), dk.data(), dv.data(), g.data(), out.data(), lse.data(),
                              q.data(), k.data(), v.data(), s.B, s.T, s.H, s.d, s.scale);
  r.dq = widen(dq), r.dk = widen(dk), r.dv = widen(dv);
  return r;
}

TEST(FlashAttention, MatchesTheStripKernelInDouble) {
  for (const Shape& s : kShapes) {
    const Inputs in = inputs(s, 11);
    const Strips want = strips(in, s);
    const Flash<double> got = flash<double>(in, s);
    EXPECT_LE(relative_error(got.out, want.out), kDoubleTol) << "out " << name(s);
    EXPECT_LE(relative_error(got.lse, reference_lse(in, s)), kDoubleTol) << "lse " << name(s);
    EXPECT_LE(relative_error(got.dq, want.dq), kDoubleTol) << "dq " << name(s);
    EXPECT_LE(relative_error(got.dk, want.dk), kDoubleTol) << "dk " << name(s);
    EXPECT_LE(relative_error(got.dv, want.dv), kDoubleTol) << "dv " << name(s);
  }
}

TEST(FlashAttention, FloatMatchesTheStripKernel) {
  for (const Shape& s : kShapes) {
    Inputs in = inputs(s, 21);
    in = {float_rounded(in.q), float_rounded(in.k), float_rounded(in.v), float_rounded(in.g)};
    const Strips want = strips(in, s);
    const Flash<float> got = flash<float>(in, s);
    EXPECT_LE(relative_error(got.out, want.out), kFloatTol) << "out " << name(s);
    EXPECT_LE(relative_error(got.lse, reference_lse(in, s)), kFloatTol) << "lse " << name(s);
    EXPECT_LE(relative_error(got.dq, want.dq, 1.0), kFloatBackwardTol) << "dq " << name(s);
    EXPECT_LE(relative_error(got.dk, want.dk, 1.0), kFloatBackwardTol) << "dk " << name(s);
    EXPECT_LE(relative_error(got.dv, want.dv, 1.0), kFloatBackwardTol) << "dv " << name(s);
  }
}

TEST(FlashAttention, BackwardIsTheFiniteDifferenceGradient) {
  for (const Shape& s : kShapes) {
    Inputs in = inputs(s, 31);
    const Flash<double> analytic = flash<double>(in, s);
    const auto f = [&] { return flash<double>(in, s, false).out; };
    // Each check is two forward passes; all but the smallest shapes are sampled.
    const int64_t work = s.B * s.H * s.T * s.T * s.d;
    const size_t checks = work > 4096 ? (work > 1000000 ? 10 : 30) : size_t(1) << 30;
    check_vjp(f, in.g, in.q, analytic.dq, name(s) + " dq", checks);
    check_vjp(f, in.g, in.k, analytic.dk, name(s) + " dk", checks);
    check_vjp(f, in.g, in.v, analytic.dv, name(s) + " dv", checks);
  }
}

TEST(FlashAttention, FirstPositionSeesOnlyItself) {
  const Shape s{2, 3, 2, 8, 0.9};
  const Inputs in = inputs(s, 41);
  const Flash<double> r = flash<double>(in, s, false);
  const int64_t N = s.H * s.d;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t c = 0; c < N; ++c)
      EXPECT_DOUBLE_EQ(r.out[size_t(b * s.T * N + c)], in.v[size_t(b * s.T * N + c)]);
}

}  // namespace
}  // namespace moet
