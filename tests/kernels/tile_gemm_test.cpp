// tile_gemm (the attention tiles' products) against the reference triple loop: every register
// blocking (row counts 1..13, column tails 1..80), A read normally and transposed through its
// strides, overwrite and accumulate; and pack_transposed.
#include "kernels/tile_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"

namespace moet {
namespace {

template <typename T>
void check(int64_t m, int64_t n, int64_t k, bool transposed_a, Accumulate accumulate) {
  Rng rng(uint64_t(m * 1000 + n * 10 + k), 1);
  const int64_t lda = transposed_a ? m + 3 : k + 2, ldb = n + 5, ldc = n + 1;
  std::vector<T> a(size_t((transposed_a ? k : m) * lda)), b(size_t(k * ldb)), c(size_t(m * ldc));
  for (auto& x : a) x = T(rng.uniform() - 0.5);
  for (auto& x : b) x = T(rng.uniform() - 0.5);
  for (auto& x : c) x = T(rng.uniform() - 0.5);
  std::vector<T> want = c;
  const int64_t rs = transposed_a ? 1 : lda, cs = transposed_a ? lda : 1;
  const T alpha = T(0.75);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += double(a[i * rs + p * cs]) * double(b[p * ldb + j]);
      want[i * ldc + j] =
          T(alpha * sum + (accumulate == Accumulate::yes ? double(want[i * ldc + j]) : 0.0));
    }
  tile_gemm<T>(m, n, k, alpha, a.data(), rs, cs, b.data(), ldb, accumulate, c.data(), ldc);
  const double tol = std::is_same_v<T, float> ? 2e-6 * double(k + 1) : 1e-13 * double(k + 1);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = size_t(i * ldc + j);
      if (j >= n) {
        ASSERT_EQ(c[at], want[at]) << "wrote outside C at " << i << "," << j;
        continue;
      }
      ASSERT_NEAR(double(c[at]), double(want[at]), tol)
          << "m=" << m << " n=" << n << " k=" << k << " transposed=" << transposed_a
          << " accumulate=" << (accumulate == Accumulate::yes) << " at " << i << "," << j;
    }
}

TEST(TileGemm, MatchesReferenceOverBlockingsTailsAndLayouts) {
  for (const int64_t m : {1, 5, 6, 7, 12, 13, 25})
    for (const int64_t n : {1, 15, 16, 17, 32, 40, 64, 80, 130})
      for (const int64_t k : {0, 1, 9, 64})
        for (const bool transposed : {false, true})
          for (const Accumulate accumulate : {Accumulate::no, Accumulate::yes}) {
            check<float>(m, n, k, transposed, accumulate);
            check<double>(m, n, k, transposed, accumulate);
          }
}

// Register-blocked blocks (16 x 16 on AVX-512, 8 x 8 on AVX2) plus ragged edges on either side.
TEST(TileGemm, PackTransposed) {
  for (const int64_t rows : {7, 16, 35, 64})
    for (const int64_t cols : {5, 16, 32, 40}) {
      const int64_t ld_in = cols + 3, ld_out = rows + 2;
      std::vector<float> in(size_t(rows * ld_in)), out(size_t(cols * ld_out), -1.0f);
      for (size_t i = 0; i < in.size(); ++i) in[i] = float(i);
      pack_transposed(out.data(), ld_out, in.data(), ld_in, rows, cols);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < ld_out; ++r)
          ASSERT_EQ(out[c * ld_out + r], r < rows ? in[r * ld_in + c] : -1.0f)
              << rows << "x" << cols << " at column " << c << " row " << r;
    }
}

}  // namespace
}  // namespace moet
