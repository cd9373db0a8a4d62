#include "kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/softmax_row.h"
#include "kernels/tile_gemm.h"

namespace moet {

namespace {

// Rows [first, first + rows) of a sequence of T_len, in strips of kAttentionStrip.
struct Strip {
  int64_t first, rows;
  int64_t end() const { return first + rows; }
};

template <typename Fn>
void for_each_strip(int64_t T_len, Fn&& fn) {
  for (int64_t first = 0; first < T_len; first += kAttentionStrip)
    fn(Strip{first, std::min(kAttentionStrip, T_len - first)});
}

// Runs fn(b, h, thread's dS tile, thread's d x T tile) for every (sequence, head) pair, one pair
// per task: each pair's products run on one thread, so results do not depend on the schedule.
template <typename T, typename Fn>
void for_each_head(int64_t B, int64_t H, int64_t T_len, int64_t d, T* scratch, int scratch_threads,
                   Fn&& fn) {
  const int threads = std::max(1, std::min(scratch_threads, omp_get_max_threads()));
  const int64_t per_thread = attention_scratch_numel(T_len, d, 1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    T* mine = scratch + omp_get_thread_num() * per_thread;
    fn(bh / H, bh % H, mine, mine + T_len * T_len);
  }
}

}  // namespace

int64_t attention_scratch_numel(int64_t T_len, int64_t d, int threads) {
  return int64_t(threads) * (T_len * T_len + d * T_len);
}

template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale, T* scratch,
                       int scratch_threads) {
  const int64_t N = H * d;
  for_each_head(B, H, T_len, d, scratch, scratch_threads, [&](int64_t b, int64_t h, T*, T* kt) {
    const int64_t base = b * T_len * N + h * d;
    T* P = probs + (b * H + h) * T_len * T_len;
    pack_transposed(kt, T_len, k + base, N, T_len, d);
    for_each_strip(T_len, [&](Strip s) {
      // Rows of the strip see keys [0, s.end()).
      T* S = P + s.first * T_len;
      tile_gemm<T>(s.rows, s.end(), d, T(scale), q + base + s.first * N, N, 1, kt, T_len,
                   Accumulate::no, S, T_len);
      for (int64_t i = 0; i < s.rows; ++i) {
        T* row = S + i * T_len;
        const int64_t valid = s.first + i + 1;
        const RowExp<T> e = exp_shift_row(row, valid);
        scale_row(row, valid, T(1) / e.sum);
        // Zeros where the strip's products read past the diagonal; further right nothing reads.
        std::fill(row + valid, row + s.end(), T(0));
      }
      tile_gemm<T>(s.rows, d, s.end(), T(1), S, T_len, 1, v + base, N, Accumulate::no,
                   out + base + s.first * N, N);
    });
  });
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale, T* scratch, int scratch_threads) {
  const int64_t N = H * d;
  for_each_head(B, H, T_len, d, scratch, scratch_threads, [&](int64_t b, int64_t h, T* dS, T* vt) {
    const int64_t base = b * T_len * N + h * d;
    const T* P = probs + (b * H + h) * T_len * T_len;
    pack_transposed(vt, T_len, v + base, N, T_len, d);
    // By query strip: dP = dO V^T over the visible keys, dS = softmax backward of dP in place
    // (zero above the diagonal, which the key strips below read), dQ = scale dS K.
    for_each_strip(T_len, [&](Strip s) {
      T* dSs = dS + s.first * T_len;
      tile_gemm<T>(s.rows, s.end(), d, T(1), dout + base + s.first * N, N, 1, vt, T_len,
                   Accumulate::no, dSs, T_len);
      for (int64_t i = 0; i < s.rows; ++i) {
        const int64_t valid = s.first + i + 1;
        T* row = dSs + i * T_len;
        softmax_backward_row(row, P + (s.first + i) * T_len, valid);
        std::fill(row + valid, row + s.end(), T(0));
      }
      tile_gemm<T>(s.rows, d, s.end(), T(scale), dSs, T_len, 1, k + base, N, Accumulate::no,
                   dq + base + s.first * N, N);
    });
    // By key strip: keys [first, end) are seen by queries [first, T); dS^T and P^T are read in
    // place (row stride 1, column stride T).
    for_each_strip(T_len, [&](Strip s) {
      const int64_t queries = T_len - s.first;
      const int64_t corner = s.first * T_len + s.first;
      tile_gemm<T>(s.rows, d, queries, T(scale), dS + corner, 1, T_len, q + base + s.first * N, N,
                   Accumulate::no, dk + base + s.first * N, N);
      tile_gemm<T>(s.rows, d, queries, T(1), P + corner, 1, T_len, dout + base + s.first * N, N,
                   Accumulate::no, dv + base + s.first * N, N);
    });
  });
}

template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale) {
  const int threads = omp_get_max_threads();
  std::vector<T> scratch(size_t(attention_scratch_numel(T_len, d, threads)));
  attention_forward<T>(out, probs, q, k, v, B, T_len, H, d, scale, scratch.data(), threads);
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale) {
  const int threads = omp_get_max_threads();
  std::vector<T> scratch(size_t(attention_scratch_numel(T_len, d, threads)));
  attention_backward<T>(dq, dk, dv, dout, q, k, v, probs, B, T_len, H, d, scale, scratch.data(),
                        threads);
}

#define MOET_INSTANTIATE(T)                                                                     \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t,    \
                                     int64_t, int64_t, double, T*, int);                        \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,       \
                                      const T*, int64_t, int64_t, int64_t, int64_t, double, T*, \
                                      int);                                                     \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t,    \
                                     int64_t, int64_t, double);                                 \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,       \
                                      const T*, int64_t, int64_t, int64_t, int64_t, double);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
