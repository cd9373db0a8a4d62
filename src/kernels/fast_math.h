// Vectorised exp for float, the one transcendental the hot loops need (softmaxes, sigmoids,
// GELU), in the build's vectors (kernels/simd.h) with a scalar twin of the same arithmetic.
//
// libm's expf/tanhf are scalar calls: before this file they took about a quarter of a training
// step. exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln 2 split in two parts (Cody-Waite),
// exp(r) by Cephes' degree-6 polynomial, 2^n applied with one rounding (vscalefps on AVX-512, two
// exact power-of-two factors on AVX2), so huge negative n rounds to zero or a denormal. Measured
// against double exp over [-104, 88.7]: at most 2 ulp (the test in tests/kernels/fast_math_test.cpp
// holds it to 3e-7 relative). Inputs are clamped to that range, so exp(-inf) = 0 and exp(+inf) =
// FLT_MAX: callers never see inf or NaN from a finite or infinite input (NaN stays NaN). Double
// code keeps std::exp: it serves the gradient checks.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/simd.h"

namespace moet::fast {

inline constexpr float kExpLo = -104.0f;  // exp below this is 0 in float (incl. denormals)
inline constexpr float kExpHi = 88.72f;   // exp above this overflows float
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;  // ln 2 = hi + lo, hi with few mantissa bits
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#ifdef MOET_SIMD
inline simd::V exp(simd::V x) {
  using namespace simd;
  x = max(broadcast(kExpLo), min(broadcast(kExpHi), x));  // NaN stays NaN
  const V n = round_nearest(mul(x, broadcast(kLog2e)));
  V r = fnma(n, broadcast(kLn2Hi), x);
  r = fnma(n, broadcast(kLn2Lo), r);
  V p = broadcast(kP0);
  p = fma(p, r, broadcast(kP1));
  p = fma(p, r, broadcast(kP2));
  p = fma(p, r, broadcast(kP3));
  p = fma(p, r, broadcast(kP4));
  p = fma(p, r, broadcast(kP5));
  p = fma(p, mul(r, r), add(r, broadcast(1.0f)));
  return scale_pow2(p, n);
}
#endif

// The same arithmetic one value at a time, for tails and builds without MOET_SIMD.
inline float exp(float x) {
  if (std::isnan(x)) return x;
  x = std::fmax(std::fmin(x, kExpHi), kExpLo);
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = kP0;
  p = std::fma(p, r, kP1);
  p = std::fma(p, r, kP2);
  p = std::fma(p, r, kP3);
  p = std::fma(p, r, kP4);
  p = std::fma(p, r, kP5);
  p = std::fma(p, r * r, r + 1.0f);
  return std::ldexp(p, int(n));
}

}  // namespace moet::fast
