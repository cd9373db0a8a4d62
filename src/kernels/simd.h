// simd: the float vector unit of this build, as the few operations our kernels use.
//
// One vocabulary over two instruction sets, so every vectorised kernel (tile_gemm, fast::exp,
// the GELU, the row softmax) is written once: AVX-512 (16 lanes, mask registers) where the build
// targets it, AVX2 with FMA (8 lanes; a mask is a vector whose selected lanes are all ones)
// otherwise. MOET_SIMD is defined when either is; a build with neither keeps the plain loops that
// sit beside each kernel. Which one a binary holds follows -march (CMakeLists.txt builds for the
// host); src/core/cpu_check.cpp stops a binary on a CPU that lacks it.
//
// Masked loads read 0 in the lanes they skip and never touch that memory; masked stores leave it
// alone. The AVX-512 forms use the masked instructions with a full mask where g++ 12 warns that
// the unmasked ones read an undefined vector (its _mm512_undefined_ps): the same instructions
// without the false alarm.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__)
#define MOET_SIMD 512
#elif defined(__AVX2__) && defined(__FMA__)
#define MOET_SIMD 256
#endif

#ifdef MOET_SIMD
namespace moet::simd {

#if MOET_SIMD == 512
using V = __m512;
using Mask = __mmask16;
inline constexpr int kLanes = 16;
inline constexpr int kRegisters = 32;

inline Mask all() { return Mask(0xffff); }
// Lanes [0, count) (count >= 0).
inline Mask first(int64_t count) { return count >= 16 ? all() : Mask((1u << count) - 1u); }
inline V zero() { return _mm512_setzero_ps(); }
inline V broadcast(float x) { return _mm512_set1_ps(x); }
inline V load(const float* p) { return _mm512_loadu_ps(p); }
inline V load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
inline V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
inline V fnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
// min/max as vminps/vmaxps: the second operand when either is NaN.
inline V min(V a, V b) { return _mm512_mask_min_ps(a, all(), a, b); }
inline V max(V a, V b) { return _mm512_mask_max_ps(a, all(), a, b); }
// a + b (max(a, b)) in the lanes of m, a elsewhere.
inline V add(Mask m, V a, V b) { return _mm512_mask_add_ps(a, m, a, b); }
inline V max(Mask m, V a, V b) { return _mm512_mask_max_ps(a, m, a, b); }
inline V round_nearest(V x) {
  return _mm512_mask_roundscale_ps(x, all(), x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// p 2^n for integral n, rounded once (vscalefps).
inline V scale_pow2(V p, V n) { return _mm512_mask_scalef_ps(p, all(), p, n); }

// Across the lanes by halving, in a fixed order; all in 512-bit registers because the
// 512 -> 256-bit casts hit the same false alarm.
template <typename Op>
inline float reduce(V v, Op op) {
  v = op(v, _mm512_mask_shuffle_f32x4(v, all(), v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_shuffle_f32x4(v, all(), v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = op(v, _mm512_mask_permute_ps(v, all(), v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_permute_ps(v, all(), v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_cvtss_f32(v);
}

// In-register transpose of a 16 x 16 block, rows in, columns out: unpack pairs, then pairs of
// pairs, then 128-bit lanes twice.
inline void transpose(V r[16]) {
  const auto pd = [](__m512 x) { return _mm512_castps_pd(x); };
  const auto ps = [](__m512d x) { return _mm512_castpd_ps(x); };
  V t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_mask_unpacklo_ps(r[i], all(), r[i], r[i + 1]);
    t[i + 1] = _mm512_mask_unpackhi_ps(r[i], all(), r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = ps(_mm512_mask_unpacklo_pd(pd(t[i]), 0xff, pd(t[i]), pd(t[i + 2])));
    r[i + 1] = ps(_mm512_mask_unpackhi_pd(pd(t[i]), 0xff, pd(t[i]), pd(t[i + 2])));
    r[i + 2] = ps(_mm512_mask_unpacklo_pd(pd(t[i + 1]), 0xff, pd(t[i + 1]), pd(t[i + 3])));
    r[i + 3] = ps(_mm512_mask_unpackhi_pd(pd(t[i + 1]), 0xff, pd(t[i + 1]), pd(t[i + 3])));
  }
  // r[4g + j] holds column (4 lane + j) of rows 4g..4g+3 in 128-bit lane `lane`.
  for (int h = 0; h < 16; h += 8)
    for (int j = 0; j < 4; ++j) {
      t[h + j] = _mm512_mask_shuffle_f32x4(r[h + j], all(), r[h + j], r[h + 4 + j], 0x88);
      t[h + 4 + j] = _mm512_mask_shuffle_f32x4(r[h + j], all(), r[h + j], r[h + 4 + j], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_mask_shuffle_f32x4(t[j], all(), t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_mask_shuffle_f32x4(t[j], all(), t[j], t[8 + j], 0xdd);
  }
}
#else
using V = __m256;
using Mask = __m256i;
inline constexpr int kLanes = 8;
inline constexpr int kRegisters = 16;

inline Mask all() { return _mm256_set1_epi32(-1); }
inline Mask first(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<int64_t>(count, 8))),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline V zero() { return _mm256_setzero_ps(); }
inline V broadcast(float x) { return _mm256_set1_ps(x); }
inline V load(const float* p) { return _mm256_loadu_ps(p); }
inline V load(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
// vmaskmovps stores run about 7× slower than plain ones on the Zen 3 (0.74 against 5.5 ns a
// vector in a store loop), and nearly every store of a row is of a whole vector: those go plain.
inline void store(float* p, Mask m, V v) {
  if (_mm256_movemask_ps(_mm256_castsi256_ps(m)) == 0xff)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, m, v);
}
inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V fnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
inline V min(V a, V b) { return _mm256_min_ps(a, b); }
inline V max(V a, V b) { return _mm256_max_ps(a, b); }
inline V add(Mask m, V a, V b) {
  return _mm256_blendv_ps(a, _mm256_add_ps(a, b), _mm256_castsi256_ps(m));
}
inline V max(Mask m, V a, V b) {
  return _mm256_blendv_ps(a, _mm256_max_ps(a, b), _mm256_castsi256_ps(m));
}
inline V round_nearest(V x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
// p 2^n for integral n, rounded once like vscalefps where p 2^(n/2) is normal (fast::exp: p in
// [1, 2), n in [-150, 128]): 2^n = 2^(n/2) 2^(n - n/2) keeps both factors normal, p 2^(n/2) is
// exact, and only the second product rounds (to a denormal or zero where the result is that small).
inline V scale_pow2(V p, V n) {
  const __m256i k = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(k, 1);
  const auto pow2 = [](__m256i e) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
  };
  return _mm256_mul_ps(_mm256_mul_ps(p, pow2(half)), pow2(_mm256_sub_epi32(k, half)));
}

// Across the lanes by halving, in a fixed order.
template <typename Op>
inline float reduce(V v, Op op) {
  v = op(v, _mm256_permute2f128_ps(v, v, 0x01));
  v = op(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm256_cvtss_f32(v);
}

// In-register transpose of an 8 x 8 block, rows in, columns out: unpack pairs, shuffle pairs of
// pairs, then swap 128-bit halves.
inline void transpose(V r[8]) {
  V t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // columns 0 1 | 4 5 of rows i, i + 1
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // columns 2 3 | 6 7
  }
  for (int i = 0; i < 8; i += 4) {  // u[i + j]: column j | j + 4 of rows i..i + 3
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}
#endif

inline float reduce_add(V v) {
  return reduce(v, [](V a, V b) { return add(a, b); });
}
inline float reduce_max(V v) {
  return reduce(v, [](V a, V b) { return max(a, b); });
}

}  // namespace moet::simd
#endif
