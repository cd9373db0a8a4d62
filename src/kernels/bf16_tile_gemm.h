// bf16_tile_gemm: C (=, +=) A B with bf16 operands and fp32 accumulation, for the attention core
// under train.precision = bf16, on AMX tiles where the CPU has them.
//
// On a CPU with AMX (Sapphire Rapids and later) one tdpbf16ps multiplies 16 x 32 by 32 x 16 bf16
// into 16 x 16 fp32; for attention's tiles that is an order of magnitude past the AVX-512 fp32
// tile products of kernels/tile_gemm.h. (AVX512-BF16's vdpbf16ps alone does not pay: measured on
// this session's Xeon it retires at half the FLOP rate of fp32 FMAs; docs/performance.md.) Tiles
// are whole, so every operand is padded: m and n to multiples of 16, k to a multiple of 32, the
// padding zero (the caller's), and C's padding is written too. Without AMX (or when a test forces
// it) the same products run as a scalar loop over the same layouts: correct, slow, meant for
// tests and for CPUs whose model falls back to the fp32 attention core anyway
// (bf16_attention_available()).
//
// Layouts (elements are uint16_t bf16, kernels/bf16.h): A row-major, A(i, p) = a[i * lda + p]; B
// in pairs of rows (VNNI), B(p, j) = b[(p / 2) * ldb + 2 j + p % 2], so ldb >= 2 n; C row-major
// fp32, C(i, j) = c[i * ldc + j].
#pragma once

#include <cstdint>

#include "kernels/flags.h"

namespace moet {

inline constexpr int64_t kBf16TileRows = 16;  // m and n are multiples of this
inline constexpr int64_t kBf16TileK = 32;     // k is a multiple of this

// Whether the products run on AMX: the CPU has AMX-BF16, the kernel lets this process use the
// tile registers, and no test forced the fallback.
bool bf16_tiles_on_amx();
// Tests: run every product through the scalar fallback (true) or back on AMX when present.
void force_bf16_tile_fallback(bool forced);

// The tile registers' configuration, loaded for the calling thread while it lives (and released
// after): products must run inside one, on the thread that made it. oneDNN's AMX kernels configure
// the tiles their own way, so a session spans one stretch of attention work, never a oneDNN call.
class Bf16TileSession {
 public:
  Bf16TileSession();
  ~Bf16TileSession();
  Bf16TileSession(const Bf16TileSession&) = delete;
  Bf16TileSession& operator=(const Bf16TileSession&) = delete;

 private:
  bool amx_;
};

void bf16_tile_gemm(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                    const uint16_t* b, int64_t ldb, Accumulate accumulate, float* c, int64_t ldc);

// Packing fp32 operands into the layouts above, rounded to bf16 (round to nearest even), padding
// to `rows_pad` x `cols_pad` with zeros. Transposed operands (K^T, P^T) are transposed in fp32
// first (pack_transposed, kernels/tile_gemm.h): 16 x 16 blocks in registers beat strided bf16
// stores.
// A from a row-major source: out[r * cols_pad + c] = in[r * ld_in + c] for r < rows, c < cols.
void pack_bf16_rows(uint16_t* out, int64_t rows_pad, int64_t cols_pad, const float* in,
                    int64_t ld_in, int64_t rows, int64_t cols);
// B (pairs of rows) from a row-major source: B(p, j) = in[p * ld_in + j] for p < rows, j < cols;
// B is rows_pad x cols_pad, ldb 2 cols_pad.
void pack_bf16_pairs(uint16_t* out, int64_t rows_pad, int64_t cols_pad, const float* in,
                     int64_t ld_in, int64_t rows, int64_t cols);
// The rounded multiple of a tile size at or above n.
inline int64_t round_up(int64_t n, int64_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

}  // namespace moet
