#include "kernels/linear.h"

#include <type_traits>

#include "core/error.h"
#include "kernels/colsum.h"
#include "kernels/gemm.h"
#include "kernels/mixed_gemm.h"
#include "kernels/parallel.h"

namespace moet {

namespace {

// Row counts vary from call to call for experts (the tokens routed to each); every distinct
// count would build its own GEMM primitive (~0.1-0.5 ms). Splitting the rows into a multiple of
// kRowBucket and a remainder below it caps the distinct shapes at (range / kRowBucket) + kRowBucket
// per layout, at the price of one more small call; fixed batch sizes (multiples of it) see one.
constexpr int64_t kRowBucket = 32;

// fn(first_row, rows) over the bucketed part and the remainder, skipping empty parts.
template <typename Fn>
void for_row_parts(int64_t rows, Fn&& fn) {
  const int64_t main_rows = rows / kRowBucket * kRowBucket;
  if (main_rows > 0) fn(int64_t(0), main_rows);
  if (rows > main_rows) fn(main_rows, rows - main_rows);
}

// C = alpha op(A) op(B) + beta C in T, or in bf16 when B (the weight) comes with a bf16 copy.
template <typename T>
void linear_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                 const uint16_t* a_bf16, int64_t lda, const T* b, const uint16_t* b_bf16,
                 int64_t ldb, T beta, T* c, int64_t ldc, bool use_bf16) {
  if constexpr (std::is_same_v<T, float>) {
    gemm_mixed(use_bf16, trans_a, trans_b, m, n, k, alpha, {a, a_bf16}, lda, {b, b_bf16}, ldb, beta,
               c, ldc);
  } else {
    MOET_CHECK(!use_bf16);
    gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// A bf16 pointer offset with its fp32 twin, or null.
const uint16_t* offset(const uint16_t* p, int64_t by) { return p ? p + by : nullptr; }

}  // namespace

template <typename T>
void linear_forward(T* out, const T* x, const T* W, const T* bias, int64_t rows, int64_t in,
                    int64_t out_dim, T mult, bool accumulate, const uint16_t* W_bf16) {
  if (rows == 0) return;
  for_row_parts(rows, [&](int64_t first, int64_t part) {
    linear_gemm<T>(false, false, part, out_dim, in, mult, x + first * in, nullptr, in, W, W_bf16,
                   out_dim, accumulate ? T(1) : T(0), out + first * out_dim, out_dim,
                   W_bf16 != nullptr);
  });
  if (!bias) return;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * out_dim))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < out_dim; ++c) out[r * out_dim + c] += bias[c];
}

template <typename T>
void linear_backward(T* dx, T* dW, T* dbias, const T* dout, const T* x, const T* W, int64_t rows,
                     int64_t in, int64_t out_dim, T mult, bool accumulate_dx,
                     const uint16_t* W_bf16) {
  if (rows == 0) return;
  const bool use_bf16 = W_bf16 != nullptr;
  // In bf16, dout is rounded once for both of its GEMMs.
  const uint16_t* dout_bf16 = nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (use_bf16) dout_bf16 = round_to_bf16_scratch(dout, rows * out_dim, Bf16Slot::caller);
  // The rows are the reduction of dW: its parts are summed one after the other.
  for_row_parts(rows, [&](int64_t first, int64_t part) {
    linear_gemm<T>(true, false, in, out_dim, part, mult, x + first * in, nullptr, in,
                   dout + first * out_dim, offset(dout_bf16, first * out_dim), out_dim, T(1), dW,
                   out_dim, use_bf16);
  });
  if (dbias) add_column_sums(dbias, dout, rows, out_dim);
  if (dx)
    for_row_parts(rows, [&](int64_t first, int64_t part) {
      linear_gemm<T>(false, true, part, in, out_dim, mult, dout + first * out_dim,
                     offset(dout_bf16, first * out_dim), out_dim, W, W_bf16, out_dim,
                     accumulate_dx ? T(1) : T(0), dx + first * in, in, use_bf16);
    });
}

#define MOET_INSTANTIATE(T)                                                                   \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                  T, bool, const uint16_t*);                                  \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                   int64_t, T, bool, const uint16_t*);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
