#include "kernels/bf16_tile_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>

#include "kernels/amx.h"
#include "kernels/bf16.h"

namespace moet {
namespace {

std::atomic<bool> fallback_forced{false};

// C[16 MT, 16 NT] (=, +=) A[16 MT, k] B[k, 16 NT]; tile numbers must be literals. Tiles as
// configure_amx_tiles() lays them out: C in 0-3 (a 2 x 2 block of 16 x 16 fp32), A in 4-5
// (16 x 32 bf16), B in 6-7 (16 row pairs x 16 columns).
template <int MT, int NT>
__attribute__((target("amx-tile,amx-bf16"))) void amx_block(int64_t k, const uint16_t* a,
                                                            int64_t lda, const uint16_t* b,
                                                            int64_t ldb, Accumulate accumulate,
                                                            float* c, int64_t ldc) {
  const int64_t sa = lda * 2, sb = ldb * 2, sc = ldc * 4;  // row strides in bytes
  float* c1 = c + 16 * ldc;
  if (accumulate == Accumulate::yes) {
    _tile_loadd(0, c, sc);
    if constexpr (NT > 1) _tile_loadd(1, c + 16, sc);
    if constexpr (MT > 1) _tile_loadd(2, c1, sc);
    if constexpr (MT > 1 && NT > 1) _tile_loadd(3, c1 + 16, sc);
  } else {
    _tile_zero(0);
    if constexpr (NT > 1) _tile_zero(1);
    if constexpr (MT > 1) _tile_zero(2);
    if constexpr (MT > 1 && NT > 1) _tile_zero(3);
  }
  for (int64_t p = 0; p < k; p += kBf16TileK) {
    const uint16_t* bp = b + p / 2 * ldb;
    _tile_loadd(4, a + p, sa);
    _tile_loadd(6, bp, sb);
    if constexpr (NT > 1) _tile_loadd(7, bp + 32, sb);
    if constexpr (MT > 1) _tile_loadd(5, a + 16 * lda + p, sa);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NT > 1) _tile_dpbf16ps(1, 4, 7);
    if constexpr (MT > 1) _tile_dpbf16ps(2, 5, 6);
    if constexpr (MT > 1 && NT > 1) _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, c, sc);
  if constexpr (NT > 1) _tile_stored(1, c + 16, sc);
  if constexpr (MT > 1) _tile_stored(2, c1, sc);
  if constexpr (MT > 1 && NT > 1) _tile_stored(3, c1 + 16, sc);
}

void amx_gemm(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda, const uint16_t* b,
              int64_t ldb, Accumulate accumulate, float* c, int64_t ldc) {
  for (int64_t i0 = 0; i0 < m; i0 += 32) {
    const bool two_rows = m - i0 >= 32;
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
      const bool two_cols = n - j0 >= 32;
      const uint16_t* ai = a + i0 * lda;
      const uint16_t* bj = b + 2 * j0;
      float* cij = c + i0 * ldc + j0;
      if (two_rows && two_cols)
        amx_block<2, 2>(k, ai, lda, bj, ldb, accumulate, cij, ldc);
      else if (two_rows)
        amx_block<2, 1>(k, ai, lda, bj, ldb, accumulate, cij, ldc);
      else if (two_cols)
        amx_block<1, 2>(k, ai, lda, bj, ldb, accumulate, cij, ldc);
      else
        amx_block<1, 1>(k, ai, lda, bj, ldb, accumulate, cij, ldc);
    }
  }
}

// The same products one entry at a time: bf16 values widened to fp32 are exact, and their
// products are exact in fp32 (8-bit significands), so only the fp32 accumulation rounds.
void scalar_gemm(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda, const uint16_t* b,
                 int64_t ldb, Accumulate accumulate, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = accumulate == Accumulate::yes ? c[i * ldc + j] : 0.0f;
      for (int64_t p = 0; p < k; ++p)
        sum += bf16_to_float(a[i * lda + p]) * bf16_to_float(b[p / 2 * ldb + 2 * j + p % 2]);
      c[i * ldc + j] = sum;
    }
}

}  // namespace

bool bf16_tiles_on_amx() {
  return amx_bf16_usable() && !fallback_forced.load(std::memory_order_relaxed);
}

void force_bf16_tile_fallback(bool forced) { fallback_forced = forced; }

Bf16TileSession::Bf16TileSession() : amx_(bf16_tiles_on_amx()) {
  if (amx_) configure_amx_tiles();
}

Bf16TileSession::~Bf16TileSession() {
  if (amx_) release_amx_tiles();
}

void bf16_tile_gemm(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                    const uint16_t* b, int64_t ldb, Accumulate accumulate, float* c, int64_t ldc) {
  if (bf16_tiles_on_amx())
    amx_gemm(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
  else
    scalar_gemm(m, n, k, a, lda, b, ldb, accumulate, c, ldc);
}

void pack_bf16_rows(uint16_t* out, int64_t rows_pad, int64_t cols_pad, const float* in,
                    int64_t ld_in, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    uint16_t* o = out + r * cols_pad;
    float_to_bf16(in + r * ld_in, o, cols);
    std::fill(o + cols, o + cols_pad, uint16_t(0));
  }
  std::fill(out + rows * cols_pad, out + rows_pad * cols_pad, uint16_t(0));
}

void pack_bf16_pairs(uint16_t* out, int64_t rows_pad, int64_t cols_pad, const float* in,
                     int64_t ld_in, int64_t rows, int64_t cols) {
  for (int64_t p = 0; p < rows_pad; p += 2) {
    uint16_t* o = out + p * cols_pad;  // pair-row p / 2, 2 cols_pad long
    const int64_t filled = p < rows ? cols : 0;
    const float* even = in + p * ld_in;
    if (p + 1 < rows) {
      const float* odd = even + ld_in;
      // Both rows in one loop: g++ vectorises the interleaved stores.
      for (int64_t j = 0; j < filled; ++j) {
        o[2 * j] = float_to_bf16(even[j]);
        o[2 * j + 1] = float_to_bf16(odd[j]);
      }
    } else {
      for (int64_t j = 0; j < filled; ++j) o[2 * j] = float_to_bf16(even[j]), o[2 * j + 1] = 0;
    }
    std::fill(o + 2 * filled, o + 2 * cols_pad, uint16_t(0));
  }
}

}  // namespace moet
