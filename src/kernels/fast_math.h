// Vectorised exp for float, the one transcendental the hot loops need (softmaxes, sigmoids,
// GELU), in AVX-512 with a scalar twin of the same arithmetic.
//
// libm's expf/tanhf are scalar calls: before this file they took about a quarter of a training
// step. exp(x) = 2^n exp(r), n = round(x log2 e), r = x - n ln 2 split in two parts (Cody-Waite),
// exp(r) by Cephes' degree-6 polynomial, 2^n applied with vscalefps (which also rounds huge
// negative n to zero). Measured against double exp over [-104, 88.7]: at most 2 ulp (the test
// in tests/kernels/fast_math_test.cpp holds it to 3e-7 relative). Inputs are clamped to that
// range, so exp(-inf) = 0 and exp(+inf) = FLT_MAX: callers never see inf or NaN from a finite or
// infinite input (NaN stays NaN). Double code keeps std::exp: it serves the gradient checks.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace moet::fast {

inline constexpr float kExpLo = -104.0f;  // exp below this is 0 in float (incl. denormals)
inline constexpr float kExpHi = 88.72f;   // exp above this overflows float
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;  // ln 2 = hi + lo, hi with few mantissa bits
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#ifdef __AVX512F__
// g++ 12 warns that the unmasked forms of min, max, roundscale, scalef and the reductions read
// an undefined vector (its _mm512_undefined_ps); the masked forms with a full mask are the same
// instructions without the false alarm.
inline constexpr __mmask16 kAll = 0xffff;

// Across the 16 lanes by halving, in a fixed order; all in 512-bit registers because the
// 512 -> 256-bit casts hit the same false alarm.
template <typename Op>
inline float reduce(__m512 v, Op op) {
  v = op(v, _mm512_mask_shuffle_f32x4(v, kAll, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_shuffle_f32x4(v, kAll, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = op(v, _mm512_mask_permute_ps(v, kAll, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_permute_ps(v, kAll, v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}
inline float reduce_add(__m512 v) {
  return reduce(v, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); });
}
inline float reduce_max(__m512 v) {
  return reduce(v, [](__m512 a, __m512 b) { return _mm512_mask_max_ps(a, kAll, a, b); });
}

inline __m512 exp(__m512 x) {
  // NaN in the second operand is what min/max return, so NaN lanes pass through the clamp.
  const __m512 lo = _mm512_set1_ps(kExpLo), hi = _mm512_set1_ps(kExpHi);
  x = _mm512_mask_max_ps(lo, kAll, lo, _mm512_mask_min_ps(hi, kAll, hi, x));
  const __m512 xl = _mm512_mul_ps(x, _mm512_set1_ps(kLog2e));
  const __m512 n =
      _mm512_mask_roundscale_ps(xl, kAll, xl, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  const __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_mask_scalef_ps(p, kAll, p, n);
}

// Lanes [0, count) of a 16-lane block starting at p; the rest read as 0 (count in [0, 16]).
inline __mmask16 tail_mask(int64_t count) {
  return count >= 16 ? __mmask16(0xffff) : __mmask16((1u << count) - 1u);
}
#endif

// The same arithmetic one value at a time, for tails and non-AVX-512 builds.
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
