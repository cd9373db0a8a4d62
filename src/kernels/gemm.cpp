#include "kernels/gemm.h"

#include <omp.h>

#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/bf16.h"
#include "kernels/onednn_matmul.h"

namespace moet {
namespace {

// Catches swapped or stale leading dimensions before oneDNN or the loop reads out of bounds.
void check_shape(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, int64_t lda,
                 int64_t ldb, int64_t ldc) {
  MOET_CHECK(m >= 0 && n >= 0 && k >= 0);
  if (m == 0 || n == 0) return;
  MOET_CHECK(ldc >= n);
  if (k == 0) return;
  MOET_CHECK(lda >= (trans_a == Transpose::yes ? m : k));
  MOET_CHECK(ldb >= (trans_b == Transpose::yes ? k : n));
}

// C = beta C without reading C when beta = 0: C may be uninitialised, even NaN.
template <typename T>
void scale_rows(int64_t rows, int64_t cols, T beta, T* c, int64_t ldc) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < rows; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      for (int64_t j = 0; j < cols; ++j) row[j] = T(0);
    else
      for (int64_t j = 0; j < cols; ++j) row[j] *= beta;
  }
}

// Row by row, with op(A)'s row gathered into a contiguous buffer so that both layouts of B are
// read contiguously: an axpy per row of B, or a dot product per row of B^T.
template <typename T>
void gemm_loop(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
               const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#pragma omp parallel if (!omp_in_parallel() && m * n * k > 32768)
  {
    std::vector<T> a_row(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t p = 0; p < k; ++p)
        a_row[p] = trans_a == Transpose::yes ? a[p * lda + i] : a[i * lda + p];
      T* c_row = c + i * ldc;
      scale_rows(1, n, beta, c_row, ldc);
      if (trans_b == Transpose::no) {
        for (int64_t p = 0; p < k; ++p) {
          const T scaled_a = alpha * a_row[p];
          const T* b_row = b + p * ldb;
          for (int64_t j = 0; j < n; ++j) c_row[j] += scaled_a * b_row[j];
        }
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const T* b_col = b + j * ldb;
          T dot = 0;
          for (int64_t p = 0; p < k; ++p) dot += a_row[p] * b_col[p];
          c_row[j] += alpha * dot;
        }
      }
    }
  }
}

// The stored rows x cols matrix (row stride ld) as floats with the same stride; the padding
// between rows is left as it was.
void widen_bf16(int64_t rows, int64_t cols, const uint16_t* in, int64_t ld,
                std::vector<float>& out) {
  out.resize(size_t((rows - 1) * ld + cols));
  for (int64_t r = 0; r < rows; ++r) bf16_to_float(in + r * ld, out.data() + r * ld, cols);
}

}  // namespace

template <typename T>
void gemm_reference(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = trans_a == Transpose::yes ? a[p * lda + i] : a[i * lda + p];
        const T bv = trans_b == Transpose::yes ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      c[i * ldc + j] = alpha * sum + (beta == T(0) ? T(0) : beta * c[i * ldc + j]);
    }
}

template <typename T>
void gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  check_shape(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  if constexpr (std::is_same_v<T, float>)
    onednn_matmul(MatmulInput::f32, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    gemm_loop(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_bf16(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  check_shape(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  if (onednn_has_bf16_matmul())
    return onednn_matmul(MatmulInput::bf16, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                         c, ldc);
  // No bf16 matmul on this CPU: the same products in fp32 (a bf16 times a bf16 is exact in fp32,
  // and the sums are fp32 either way), so bf16 training runs, at fp32 speed, everywhere.
  thread_local std::vector<float> a32, b32;
  widen_bf16(trans_a == Transpose::yes ? k : m, trans_a == Transpose::yes ? m : k, a, lda, a32);
  widen_bf16(trans_b == Transpose::yes ? n : k, trans_b == Transpose::yes ? k : n, b, ldb, b32);
  onednn_matmul(MatmulInput::f32, trans_a, trans_b, m, n, k, alpha, a32.data(), lda, b32.data(),
                ldb, beta, c, ldc);
}

template void gemm<float>(Transpose, Transpose, int64_t, int64_t, int64_t, float, const float*,
                          int64_t, const float*, int64_t, float, float*, int64_t);
template void gemm<double>(Transpose, Transpose, int64_t, int64_t, int64_t, double, const double*,
                           int64_t, const double*, int64_t, double, double*, int64_t);
template void gemm_reference<float>(Transpose, Transpose, int64_t, int64_t, int64_t, float,
                                    const float*, int64_t, const float*, int64_t, float, float*,
                                    int64_t);
template void gemm_reference<double>(Transpose, Transpose, int64_t, int64_t, int64_t, double,
                                     const double*, int64_t, const double*, int64_t, double,
                                     double*, int64_t);

}  // namespace moet
