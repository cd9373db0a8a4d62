#include "kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/softmax_row.h"

namespace moet {

namespace {

// Query (or key) block [first, first + rows) of a sequence of T_len.
struct Block {
  int64_t first, rows;
};

template <typename Fn>
void for_each_block(int64_t T_len, Fn&& fn) {
  for (int64_t first = 0; first < T_len; first += kAttentionBlock)
    fn(Block{first, std::min(kAttentionBlock, T_len - first)});
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale) {
  const int64_t N = H * d;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t base = b * T_len * N + h * d;
    T* P = probs + bh * T_len * T_len;
    for_each_block(T_len, [&](Block blk) {
      // Query rows [first, first + rows) see keys [0, first + rows).
      const int64_t keys = blk.first + blk.rows;
      T* S = P + blk.first * T_len;
      gemm<T>(false, true, blk.rows, keys, d, T(scale), q + base + blk.first * N, N, k + base, N,
              T(0), S, T_len);
      for (int64_t i = 0; i < blk.rows; ++i) {
        T* row = S + i * T_len;
        const int64_t valid = blk.first + i + 1;
        const RowExp<T> e = exp_shift_row(row, valid);
        scale_row(row, valid, T(1) / e.sum);
        std::fill(row + valid, row + T_len, T(0));
      }
      gemm<T>(false, false, blk.rows, d, keys, T(1), S, T_len, v + base, N, T(0),
              out + base + blk.first * N, N);
    });
  }
}

int64_t attention_scratch_numel(int64_t T_len, int threads) {
  return int64_t(threads) * T_len * T_len;
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale, T* scratch, int scratch_threads) {
  const int64_t N = H * d;
  const int threads = std::max(1, std::min(scratch_threads, omp_get_max_threads()));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t base = b * T_len * N + h * d;
    const T* P = probs + bh * T_len * T_len;
    T* dS = scratch + size_t(omp_get_thread_num()) * T_len * T_len;
    // By query block: dP = dO V^T over the visible keys, then dS = softmax backward of dP in
    // place (zero above the diagonal), then dQ = scale dS K.
    for_each_block(T_len, [&](Block blk) {
      const int64_t keys = blk.first + blk.rows;
      T* dSb = dS + blk.first * T_len;
      gemm<T>(false, true, blk.rows, keys, d, T(1), dout + base + blk.first * N, N, v + base, N,
              T(0), dSb, T_len);
      for (int64_t i = 0; i < blk.rows; ++i) {
        const int64_t valid = blk.first + i + 1;
        T* row = dSb + i * T_len;
        softmax_backward_row(row, P + (blk.first + i) * T_len, valid);
        std::fill(row + valid, row + keys, T(0));
      }
      gemm<T>(false, false, blk.rows, d, keys, T(scale), dSb, T_len, k + base, N, T(0),
              dq + base + blk.first * N, N);
    });
    // By key block: keys [first, first + rows) are seen by queries [first, T).
    for_each_block(T_len, [&](Block blk) {
      const int64_t queries = T_len - blk.first;
      const int64_t corner = blk.first * T_len + blk.first;
      gemm<T>(true, false, blk.rows, d, queries, T(scale), dS + corner, T_len,
              q + base + blk.first * N, N, T(0), dk + base + blk.first * N, N);
      gemm<T>(true, false, blk.rows, d, queries, T(1), P + corner, T_len,
              dout + base + blk.first * N, N, T(0), dv + base + blk.first * N, N);
    });
  }
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale) {
  const int threads = omp_get_max_threads();
  std::vector<T> scratch(size_t(attention_scratch_numel(T_len, threads)));
  attention_backward<T>(dq, dk, dv, dout, q, k, v, probs, B, T_len, H, d, scale, scratch.data(),
                        threads);
}

#define MOET_INSTANTIATE(T)                                                                  \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                     int64_t, int64_t, double);                              \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, int64_t, int64_t, int64_t, int64_t, double,  \
                                      T*, int);                                              \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, int64_t, int64_t, int64_t, int64_t, double);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
