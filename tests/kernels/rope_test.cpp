// Rotary position embeddings (kernels/rope.cpp), GPT-NeoX layout. Checked as kernel_check.h says:
// forward against a scalar reference, backward against finite differences in double, and the buffer
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
#include "kernels/rope.h"

namespace moet {
namespace {

using namespace testing;

struct RopeShape {
  int64_t B, seq, H, d;
  double base;
};
const RopeShape kRopeShapes[] = {
    {1, 1, 1, 2, 10000}, {2, 5, 3, 4, 10000},   {1, 6, 2, 6, 100},
    {3, 4, 1, 8, 10},    {4, 64, 4, 16, 10000},  // OpenMP path
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

}  // namespace
}  // namespace moet
