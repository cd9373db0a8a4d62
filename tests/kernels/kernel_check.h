// What the kernel tests (tests/kernels/<kernel>_test.cpp) share: tolerances, float/double
// conversions, an entry-by-entry comparison with one failure message, and the gradient buffers a
// backward finds. Each kernel is checked three ways: forward against a plain scalar reference
// (double, and float with a stated tolerance); backward against central finite differences in
// double of L = <g, f(x)> for every input it differentiates (support/fd.h); and the buffer
// convention of each backward (adds into a pre-filled gradient, or overwrites a NaN-filled one
// without reading it). Shapes include odd sizes, single rows/tokens, and one shape per kernel
// large enough to take the OpenMP path.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "../support/fd.h"
#include "kernels/bf16.h"
#include "kernels/flags.h"

namespace moet::testing {

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
inline std::vector<T> as(const Vec& v) {
  return std::vector<T>(v.begin(), v.end());
}
template <typename T>
inline Vec widen(const std::vector<T>& v) {
  return Vec(v.begin(), v.end());
}
// The inputs a float kernel actually sees, so the double reference can use the same numbers.
inline Vec float_rounded(const Vec& v) { return widen(as<float>(v)); }
// The same for a bf16 product: each entry rounded to float, then to bf16.
inline Vec bf16_rounded(const Vec& v) {
  Vec out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_float(float_to_bf16(float(v[i])));
  return out;
}

inline Vec minus(const Vec& a, const Vec& b) {
  Vec out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}
inline Vec shifted(const Vec& v, double by) {
  Vec out(v);
  for (double& x : out) x += by;
  return out;
}
inline double max_abs(const Vec& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::abs(x));
  return m;
}

// |actual - expected| <= tol * (|expected| + scale) entry by entry, where scale is the largest
// |expected| (so entries near zero are judged against the size of the whole output), or
// min_scale when the output is a cancellation of larger terms. One failure message, naming the
// worst entry and how many are off.
inline void expect_all_near(const Vec& actual, const Vec& expected, double tol,
                            const std::string& what, double min_scale = 1e-300) {
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
inline Vec prefilled(size_t n, bool adds, uint64_t seed) {
  return adds ? random_vector(n, seed, 3.0) : Vec(n, kNaN);
}
inline Vec prefilled(size_t n, Accumulate accumulate, uint64_t seed) {
  return prefilled(n, accumulate == Accumulate::yes, seed);
}

inline std::string shape_name(std::initializer_list<int64_t> dims) {
  std::string s;
  for (const int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// Token ids spread over [0, vocab) (embeddings, cross-entropy targets).
inline std::vector<int32_t> random_tokens(int64_t rows, int64_t vocab, uint64_t seed) {
  const Vec u = random_vector(size_t(rows), seed);
  std::vector<int32_t> tokens(static_cast<size_t>(rows));
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = std::min<int32_t>(int32_t(vocab - 1), int32_t((u[i] + 1) / 2 * double(vocab)));
  return tokens;
}

// Large shapes (the OpenMP paths) are checked by finite differences on a sample of entries only;
// each check costs two forward passes.
constexpr size_t kSampledChecks = 40;
inline size_t fd_checks(size_t work) { return work > 4096 ? kSampledChecks : size_t(1) << 30; }

}  // namespace moet::testing
