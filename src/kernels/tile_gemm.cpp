#include "kernels/tile_gemm.h"

#include <algorithm>

#include "kernels/simd.h"

namespace moet {

template <typename T>
void tile_gemm(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t a_row_stride,
               int64_t a_col_stride, const T* b, int64_t ldb, Accumulate accumulate, T* c,
               int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += a[i * a_row_stride + p * a_col_stride] * b[p * ldb + j];
      c[i * ldc + j] = alpha * sum + (accumulate == Accumulate::yes ? c[i * ldc + j] : T(0));
    }
}

#ifdef MOET_SIMD
namespace {

using simd::kLanes;
// Columns per chunk, in vectors: 64 (AVX-512) or 16 (AVX2) columns.
constexpr int kMaxVectors = simd::kRegisters == 32 ? 4 : 2;
// Rows per pass keep MR x NV accumulators at 18-24 of AVX-512's 32 registers, 12 of AVX2's 16,
// leaving room for the NV vectors of B and the broadcast.
constexpr int rows_per_pass(int vectors) {
  if (simd::kRegisters == 32) return vectors <= 2 ? 12 : 6;
  return vectors == 1 ? 12 : 6;
}

// C[MR, up to kLanes NV] from MR x NV accumulators held in registers across the whole k loop:
// per step NV loads of B, MR broadcasts of A and MR * NV FMAs. `last` masks the final vector's
// columns (n not a multiple of kLanes).
template <int MR, int NV>
void micro_kernel(int64_t k, float alpha, const float* a, int64_t ars, int64_t acs, const float* b,
                  int64_t ldb, Accumulate accumulate, float* c, int64_t ldc, simd::Mask last) {
  simd::V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = simd::zero();
  for (int64_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    simd::V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = v == NV - 1 ? simd::load(last, bp + kLanes * v) : simd::load(bp + kLanes * v);
    const float* ap = a + p * acs;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const simd::V av = simd::broadcast(ap[i * ars]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = simd::fma(av, bv[v], acc[i][v]);
    }
  }
  const simd::V scale = simd::broadcast(alpha);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const simd::Mask mask = v == NV - 1 ? last : simd::all();
      float* cp = c + i * ldc + kLanes * v;
      simd::V out = simd::mul(scale, acc[i][v]);
      if (accumulate == Accumulate::yes) out = simd::add(out, simd::load(mask, cp));
      simd::store(cp, mask, out);
    }
}

// Runs the kernel with exactly `rows` (1..R) register rows.
template <int R, int NV>
void rows_kernel(int rows, int64_t k, float alpha, const float* a, int64_t ars, int64_t acs,
                 const float* b, int64_t ldb, Accumulate accumulate, float* c, int64_t ldc,
                 simd::Mask last) {
  if (rows == R)
    return micro_kernel<R, NV>(k, alpha, a, ars, acs, b, ldb, accumulate, c, ldc, last);
  if constexpr (R > 1)
    rows_kernel<R - 1, NV>(rows, k, alpha, a, ars, acs, b, ldb, accumulate, c, ldc, last);
}

// All rows of C for one chunk of `vectors` (1..kMaxVectors) vectors of columns; NV counts up
// from 1 to the chunk's width so each width gets its own unrolled kernel.
template <int NV>
void column_chunk(int vectors, int64_t m, int64_t k, float alpha, const float* a, int64_t ars,
                  int64_t acs, const float* b, int64_t ldb, Accumulate accumulate, float* c,
                  int64_t ldc, simd::Mask last) {
  if constexpr (NV < kMaxVectors) {
    if (vectors > NV)
      return column_chunk<NV + 1>(vectors, m, k, alpha, a, ars, acs, b, ldb, accumulate, c, ldc,
                                  last);
  }
  constexpr int MR = rows_per_pass(NV);
  for (int64_t i0 = 0; i0 < m; i0 += MR)
    rows_kernel<MR, NV>(int(std::min<int64_t>(MR, m - i0)), k, alpha, a + i0 * ars, ars, acs, b,
                        ldb, accumulate, c + i0 * ldc, ldc, last);
}

}  // namespace

template <>
void tile_gemm<float>(int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t a_row_stride, int64_t a_col_stride, const float* b, int64_t ldb,
                      Accumulate accumulate, float* c, int64_t ldc) {
  constexpr int64_t kChunk = int64_t(kLanes) * kMaxVectors;
  for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
    const int64_t width = std::min<int64_t>(kChunk, n - j0);
    const int vectors = int((width + kLanes - 1) / kLanes);
    column_chunk<1>(vectors, m, k, alpha, a, a_row_stride, a_col_stride, b + j0, ldb, accumulate,
                    c + j0, ldc, simd::first(width - kLanes * (vectors - 1)));
  }
}
#endif

template <typename T>
void pack_transposed(T* out, int64_t ld_out, const T* in, int64_t ld_in, int64_t rows,
                     int64_t cols) {
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) out[c * ld_out + r] = in[r * ld_in + c];
}

#ifdef MOET_SIMD
// Blocks of kLanes x kLanes through registers; the ragged edges by the plain loop.
template <>
void pack_transposed<float>(float* out, int64_t ld_out, const float* in, int64_t ld_in,
                            int64_t rows, int64_t cols) {
  constexpr int64_t kBlock = kLanes;
  const int64_t rows_blocked = rows / kBlock * kBlock, cols_blocked = cols / kBlock * kBlock;
  for (int64_t r0 = 0; r0 < rows_blocked; r0 += kBlock)
    for (int64_t c0 = 0; c0 < cols_blocked; c0 += kBlock) {
      simd::V block[kBlock];
      for (int64_t i = 0; i < kBlock; ++i) block[i] = simd::load(in + (r0 + i) * ld_in + c0);
      simd::transpose(block);
      for (int64_t i = 0; i < kBlock; ++i) simd::store(out + (c0 + i) * ld_out + r0, block[i]);
    }
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = (c < cols_blocked ? rows_blocked : 0); r < rows; ++r)
      out[c * ld_out + r] = in[r * ld_in + c];
}
#endif

template void tile_gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                const double*, int64_t, Accumulate, double*, int64_t);
#ifndef MOET_SIMD
template void tile_gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                               const float*, int64_t, Accumulate, float*, int64_t);
#endif
#ifndef MOET_SIMD
template void pack_transposed<float>(float*, int64_t, const float*, int64_t, int64_t, int64_t);
#endif
template void pack_transposed<double>(double*, int64_t, const double*, int64_t, int64_t, int64_t);

}  // namespace moet
