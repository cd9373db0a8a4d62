#include "kernels/linear.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "kernels/colsum.h"
#include "kernels/gemm.h"
#include "kernels/mixed_gemm.h"
#include "kernels/parallel.h"

namespace moet {

namespace {

// Row counts vary from call to call for experts (the tokens routed to each); every distinct
// count would build its own GEMM primitive (~0.1-0.5 ms), and early in training the counts
// wander over hundreds of values. So rows run in up to three parts: a multiple of kCoarseRows,
// a multiple of kRowBucket below that, and a tail copied into kRowBucket zero-padded rows. Each
// layout then sees about range / 256 + 8 + 1 shapes. The padding rows are zero, so they add
// exact zeros to a reduction (dW) and their outputs are dropped: results are those of the
// unpadded product. Batch-sized row counts (multiples of 256) run as one GEMM.
constexpr int64_t kCoarseRows = 256;
constexpr int64_t kRowBucket = 32;

// fn(first_row, rows) over the parts, skipping empty ones; a part below kRowBucket is the tail.
template <typename Fn>
void for_row_parts(int64_t rows, Fn&& fn) {
  const int64_t coarse = rows / kCoarseRows * kCoarseRows;
  const int64_t bucketed = (rows - coarse) / kRowBucket * kRowBucket;
  if (coarse > 0) fn(int64_t(0), coarse);
  if (bucketed > 0) fn(coarse, bucketed);
  if (rows > coarse + bucketed) fn(coarse + bucketed, rows - coarse - bucketed);
}

// Per-thread buffers for padded tails (grown on first use, then reused: no allocation in a
// step once the first step has run). Slots: 0 and 1 inputs, 2 the output.
template <typename T>
T* tail_buffer(int slot, int64_t count) {
  thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[slot];
  if (b.size() < size_t(count)) b.resize(size_t(count));
  return b.data();
}

// rows x cols (row stride ld) copied into kRowBucket zero-padded rows of stride cols.
template <typename T>
T* padded_rows(int slot, const T* src, int64_t rows, int64_t cols, int64_t ld) {
  T* dst = tail_buffer<T>(slot, kRowBucket * cols);
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * ld, src + r * ld + cols, dst + r * cols);
  std::fill(dst + rows * cols, dst + kRowBucket * cols, T(0));
  return dst;
}

// C = alpha op(A) op(B) + beta C in T, or in bf16 when B (the weight) comes with a bf16 copy.
template <typename T>
void linear_gemm(Transpose trans_a, Transpose trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                 const T* a, const uint16_t* a_bf16, int64_t lda, const T* b,
                 const uint16_t* b_bf16, int64_t ldb, T beta, T* c, int64_t ldc, bool use_bf16) {
  if constexpr (std::is_same_v<T, float>) {
    gemm_mixed(use_bf16, trans_a, trans_b, m, n, k, alpha, {a, a_bf16}, lda, {b, b_bf16}, ldb, beta,
               c, ldc);
  } else {
    MOET_CHECK(!use_bf16);
    gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// The GEMM beta that overwrites C (never reading it) or adds into it.
template <typename T>
T beta_of(Accumulate accumulate) {
  return accumulate == Accumulate::yes ? T(1) : T(0);
}

// A bf16 pointer offset with its fp32 twin, or null.
const uint16_t* offset(const uint16_t* p, int64_t by) { return p ? p + by : nullptr; }

// C[rows, n] (=, or += with accumulate) alpha * A[rows, k] B for a tail of rows < kRowBucket,
// run as kRowBucket rows; B is the weight (op(B) via trans_b, ldb).
template <typename T>
void tail_rows_gemm(int64_t rows, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    Transpose trans_b, const T* b, const uint16_t* b_bf16, int64_t ldb,
                    Accumulate accumulate, T* c, int64_t ldc, bool use_bf16) {
  const T* a_pad = padded_rows(0, a, rows, k, lda);
  T* c_pad = tail_buffer<T>(2, kRowBucket * n);
  if (accumulate == Accumulate::yes)
    for (int64_t r = 0; r < rows; ++r) std::copy(c + r * ldc, c + r * ldc + n, c_pad + r * n);
  linear_gemm<T>(Transpose::no, trans_b, kRowBucket, n, k, alpha, a_pad, nullptr, k, b, b_bf16, ldb,
                 beta_of<T>(accumulate), c_pad, n, use_bf16);
  for (int64_t r = 0; r < rows; ++r) std::copy(c_pad + r * n, c_pad + r * n + n, c + r * ldc);
}

}  // namespace

template <typename T>
void linear_forward(T* out, const T* x, const T* W, ScaledVector<T> bias, int64_t rows, int64_t in,
                    int64_t out_dim, T mult, Accumulate accumulate, const uint16_t* W_bf16) {
  if (rows == 0) return;
  const bool use_bf16 = W_bf16 != nullptr;
  for_row_parts(rows, [&](int64_t first, int64_t part) {
    if (part < kRowBucket)
      return tail_rows_gemm<T>(part, out_dim, in, mult, x + first * in, in, Transpose::no, W,
                               W_bf16, out_dim, accumulate, out + first * out_dim, out_dim,
                               use_bf16);
    linear_gemm<T>(Transpose::no, Transpose::no, part, out_dim, in, mult, x + first * in, nullptr,
                   in, W, W_bf16, out_dim, beta_of<T>(accumulate), out + first * out_dim, out_dim,
                   use_bf16);
  });
  if (!bias) return;
  const T* b = bias.value;
  const T bm = bias.mult;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * out_dim))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < out_dim; ++c) out[r * out_dim + c] += bm * b[c];
}

template <typename T>
void linear_backward(T* dx, T* dW, ScaledVector<T> bias, const T* dout, const T* x, const T* W,
                     int64_t rows, int64_t in, int64_t out_dim, T mult, Accumulate accumulate_dx,
                     const uint16_t* W_bf16) {
  if (rows == 0) return;
  const bool use_bf16 = W_bf16 != nullptr;
  // In bf16, dout is rounded once for both of its GEMMs.
  const uint16_t* dout_bf16 = nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (use_bf16) dout_bf16 = round_to_bf16_scratch(dout, rows * out_dim, Bf16Slot::caller);
  // The rows are the reduction of dW: its parts are summed one after the other.
  for_row_parts(rows, [&](int64_t first, int64_t part) {
    if (part < kRowBucket) {
      const T* x_pad = padded_rows(0, x + first * in, part, in, in);
      const T* dout_pad = padded_rows(1, dout + first * out_dim, part, out_dim, out_dim);
      return linear_gemm<T>(Transpose::yes, Transpose::no, in, out_dim, kRowBucket, mult, x_pad,
                            nullptr, in, dout_pad, nullptr, out_dim, T(1), dW, out_dim, use_bf16);
    }
    linear_gemm<T>(Transpose::yes, Transpose::no, in, out_dim, part, mult, x + first * in, nullptr,
                   in, dout + first * out_dim, offset(dout_bf16, first * out_dim), out_dim, T(1),
                   dW, out_dim, use_bf16);
  });
  if (bias.grad) add_column_sums(bias.grad, bias.mult, dout, rows, out_dim);
  if (dx)
    for_row_parts(rows, [&](int64_t first, int64_t part) {
      if (part < kRowBucket)
        return tail_rows_gemm<T>(part, in, out_dim, mult, dout + first * out_dim, out_dim,
                                 Transpose::yes, W, W_bf16, out_dim, accumulate_dx, dx + first * in,
                                 in, use_bf16);
      linear_gemm<T>(Transpose::no, Transpose::yes, part, in, out_dim, mult, dout + first * out_dim,
                     offset(dout_bf16, first * out_dim), out_dim, W, W_bf16, out_dim,
                     beta_of<T>(accumulate_dx), dx + first * in, in, use_bf16);
    });
}

#define MOET_INSTANTIATE(T)                                                                        \
  template void linear_forward<T>(T*, const T*, const T*, ScaledVector<T>, int64_t, int64_t,       \
                                  int64_t, T, Accumulate, const uint16_t*);                        \
  template void linear_backward<T>(T*, T*, ScaledVector<T>, const T*, const T*, const T*, int64_t, \
                                   int64_t, int64_t, T, Accumulate, const uint16_t*);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
