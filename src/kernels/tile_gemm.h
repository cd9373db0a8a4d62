// tile_gemm: C (=, +=) alpha * A B for the small, oddly shaped products inside attention.
//
// Attention multiplies tiles of a few dozen rows by d_head columns, thousands of times per step,
// each with its own causal extent. Through oneDNN every such call pays ~2-4 us of set-up (memory
// objects, a cache look-up) and a primitive per distinct extent; here it is a register-blocked
// AVX-512 (or AVX2) loop with no set-up at all. A is addressed with two strides, so A^T needs no
// copy (dK = dS^T Q reads dS by columns); B is row-major with its rows contiguous (the vector
// axis), so Q K^T takes K^T packed once per head (pack_transposed). Double runs a plain loop: it
// serves the gradient checks, not speed.
#pragma once

#include <cstdint>

#include "kernels/flags.h"

namespace moet {

// A(i, p) = a[i * a_row_stride + p * a_col_stride] for i < m, p < k; B(p, j) = b[p * ldb + j].
// C(i, j) = c[i * ldc + j] is overwritten (Accumulate::no, never read) or added to.
template <typename T>
void tile_gemm(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t a_row_stride,
               int64_t a_col_stride, const T* b, int64_t ldb, Accumulate accumulate, T* c,
               int64_t ldc);

// out[c * ld_out + r] = in[r * ld_in + c] for r < rows, c < cols.
template <typename T>
void pack_transposed(T* out, int64_t ld_out, const T* in, int64_t ld_in, int64_t rows,
                     int64_t cols);

}  // namespace moet
