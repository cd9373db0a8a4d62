#include "kernels/flash_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/fast_math.h"
#include "kernels/softmax_row.h"
#include "kernels/tile_gemm.h"

namespace moet {

namespace {

constexpr int64_t kBr = kFlashQueryBlock, kBc = kFlashKeyBlock;
// Rows of a band where the diagonal crosses a tile (for_each_band): the micro-kernel's register
// rows, so a band's products lose no more to the masked corner than a strip of
// kernels/attention.h does.
constexpr int64_t kBand = 12;

// One thread's share of the scratch: K^T and V^T packed [d, T] (ld T), the score tile and the
// dS tile [kBr, kBc], and one value per query row (D in the backward pass; the running max and
// sum of a query block in the forward pass).
template <typename T>
struct HeadScratch {
  T *kt, *vt, *tile, *dtile, *rows;
  HeadScratch(T* base, int64_t T_len, int64_t d)
      : kt(base),
        vt(kt + d * T_len),
        tile(vt + d * T_len),
        dtile(tile + kBr * kBc),
        rows(dtile + kBr * kBc) {}
};

int64_t per_thread_numel(int64_t T_len, int64_t d) {
  return 2 * d * T_len + 2 * kBr * kBc + std::max(T_len, 2 * kBr);
}

// Runs fn(offset of the pair's first element in [B*T, N], index of the pair in [B, H], thread's
// scratch) for every (sequence, head) pair, one pair per task, so results do not depend on the
// schedule.
template <typename T, typename Fn>
void for_each_head(int64_t B, int64_t H, int64_t T_len, int64_t d, T* scratch, int scratch_threads,
                   Fn&& fn) {
  const int threads = std::max(1, std::min(scratch_threads, omp_get_max_threads()));
  const int64_t per_thread = per_thread_numel(T_len, d);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    fn(b * T_len * H * d + h * d, bh,
       HeadScratch<T>(scratch + omp_get_thread_num() * per_thread, T_len, d));
  }
}

// Splits rows [i0, i0 + rows) of a query block, against keys [j0, j0 + cols), into bands that
// each stop at their last row's diagonal: fn(first row offset, rows, keys seen) for bands of
// kBand rows while the diagonal crosses the tile, then once for all rows that see every key.
// Keys seen is <= 0 for a band entirely before j0.
template <typename Fn>
void for_each_band(int64_t i0, int64_t rows, int64_t j0, int64_t cols, Fn&& fn) {
  for (int64_t r = 0; r < rows;) {
    if (i0 + r + 1 - j0 >= cols) return fn(r, rows - r, cols);
    const int64_t band = std::min(kBand, rows - r);
    fn(r, band, std::min(cols, i0 + r + band - j0));
    r += band;
  }
}

// Forward for one (sequence, head): out, q, k, v point at its first element, rows N apart.
template <typename T>
void forward_head(T* out, T* lse, const T* q, const T* k, const T* v, int64_t T_len, int64_t N,
                  int64_t d, T scale, const HeadScratch<T>& s) {
  pack_transposed(s.kt, T_len, k, N, T_len, d);
  T* max = s.rows;
  T* sum = s.rows + kBr;
  for (int64_t i0 = 0; i0 < T_len; i0 += kBr) {
    const int64_t rows = std::min(kBr, T_len - i0), i1 = i0 + rows;
    T* o = out + i0 * N;
    // Keys past the block's last query are seen by none of its rows.
    for (int64_t j0 = 0; j0 < i1; j0 += kBc) {
      for_each_band(i0, rows, j0, std::min(kBc, i1 - j0), [&](int64_t r0, int64_t n, int64_t cols) {
        if (cols <= 0) return;  // no key of this block is visible to these rows
        T* tile = s.tile + r0 * kBc;
        tile_gemm<T>(n, cols, d, scale, q + (i0 + r0) * N, N, 1, s.kt + j0, T_len, Accumulate::no,
                     tile, kBc);
        for (int64_t r = r0; r < r0 + n; ++r)
          online_softmax_row(s.tile + r * kBc, i0 + r + 1 - j0, cols, j0 == 0, max[r], sum[r],
                             o + r * N, d);
        tile_gemm<T>(n, d, cols, T(1), tile, kBc, 1, v + j0 * N, N, Accumulate{j0 > 0}, o + r0 * N,
                     N);
      });
    }
    for (int64_t r = 0; r < rows; ++r) {
      scale_row(o + r * N, d, T(1) / sum[r]);
      lse[i0 + r] = max[r] + std::log(sum[r]);
    }
  }
}

// Backward for one (sequence, head), pointers as in forward_head.
template <typename T>
void backward_head(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q,
                   const T* k, const T* v, int64_t T_len, int64_t N, int64_t d, T scale,
                   const HeadScratch<T>& s) {
  pack_transposed(s.kt, T_len, k, N, T_len, d);
  pack_transposed(s.vt, T_len, v, N, T_len, d);
  T* D = s.rows;  // D_t = dO_t . O_t = sum_j P_tj dP_tj, the softmax backward's row term
  for (int64_t t = 0; t < T_len; ++t) {
    T dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += dout[t * N + c] * out[t * N + c];
    D[t] = dot;
    std::fill(dk + t * N, dk + t * N + d, T(0));
    std::fill(dv + t * N, dv + t * N + d, T(0));
  }
  for (int64_t j0 = 0; j0 < T_len; j0 += kBc) {
    // Keys [j0, j0 + kBc) are seen by queries [j0, T); dq is written by the first key block.
    for (int64_t i0 = j0; i0 < T_len; i0 += kBr) {
      const int64_t rows = std::min(kBr, T_len - i0);
      const int64_t cols = std::min({kBc, T_len - j0, i0 + rows - j0});
      // P and dS by band (zero past each row's diagonal), dQ by band, dK and dV over the block.
      for_each_band(i0, rows, j0, cols, [&](int64_t r0, int64_t n, int64_t seen) {
        T* tile = s.tile + r0 * kBc;
        T* dtile = s.dtile + r0 * kBc;
        tile_gemm<T>(n, seen, d, scale, q + (i0 + r0) * N, N, 1, s.kt + j0, T_len, Accumulate::no,
                     tile, kBc);
        tile_gemm<T>(n, seen, d, T(1), dout + (i0 + r0) * N, N, 1, s.vt + j0, T_len, Accumulate::no,
                     dtile, kBc);
        for (int64_t r = 0; r < n; ++r) {
          const int64_t t = i0 + r0 + r, visible = std::min(seen, t + 1 - j0);
          T* p = tile + r * kBc;
          T* ds = dtile + r * kBc;
          exp_minus_row(p, visible, lse[t]);
          for (int64_t j = 0; j < visible; ++j) ds[j] = p[j] * (ds[j] - D[t]);
          std::fill(p + visible, p + cols, T(0));
          std::fill(ds + visible, ds + cols, T(0));
        }
        tile_gemm<T>(n, d, seen, scale, dtile, kBc, 1, k + j0 * N, N, Accumulate{j0 > 0},
                     dq + (i0 + r0) * N, N);
      });
      tile_gemm<T>(cols, d, rows, T(1), s.tile, 1, kBc, dout + i0 * N, N, Accumulate::yes,
                   dv + j0 * N, N);
      tile_gemm<T>(cols, d, rows, scale, s.dtile, 1, kBc, q + i0 * N, N, Accumulate::yes,
                   dk + j0 * N, N);
    }
  }
}

}  // namespace

int64_t flash_attention_scratch_numel(int64_t T_len, int64_t d, int threads) {
  return int64_t(threads) * per_thread_numel(T_len, d);
}

template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, int64_t B,
                             int64_t T_len, int64_t H, int64_t d, double scale, T* scratch,
                             int scratch_threads) {
  const int64_t N = H * d;
  for_each_head(B, H, T_len, d, scratch, scratch_threads,
                [&](int64_t base, int64_t bh, const HeadScratch<T>& s) {
                  forward_head(out + base, lse + bh * T_len, q + base, k + base, v + base, T_len, N,
                               d, T(scale), s);
                });
}

template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, const T* k, const T* v, int64_t B, int64_t T_len,
                              int64_t H, int64_t d, double scale, T* scratch, int scratch_threads) {
  const int64_t N = H * d;
  for_each_head(B, H, T_len, d, scratch, scratch_threads,
                [&](int64_t base, int64_t bh, const HeadScratch<T>& s) {
                  backward_head(dq + base, dk + base, dv + base, dout + base, out + base,
                                lse + bh * T_len, q + base, k + base, v + base, T_len, N, d,
                                T(scale), s);
                });
}

template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, int64_t B,
                             int64_t T_len, int64_t H, int64_t d, double scale) {
  const int threads = omp_get_max_threads();
  std::vector<T> scratch(size_t(flash_attention_scratch_numel(T_len, d, threads)));
  flash_attention_forward<T>(out, lse, q, k, v, B, T_len, H, d, scale, scratch.data(), threads);
}

template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, const T* k, const T* v, int64_t B, int64_t T_len,
                              int64_t H, int64_t d, double scale) {
  const int threads = omp_get_max_threads();
  std::vector<T> scratch(size_t(flash_attention_scratch_numel(T_len, d, threads)));
  flash_attention_backward<T>(dq, dk, dv, dout, out, lse, q, k, v, B, T_len, H, d, scale,
                              scratch.data(), threads);
}

#define MOET_INSTANTIATE(T)                                                                        \
  template void flash_attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                           int64_t, int64_t, double, T*, int);                     \
  template void flash_attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                            const T*, const T*, int64_t, int64_t, int64_t,         \
                                            int64_t, double, T*, int);                             \
  template void flash_attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                           int64_t, int64_t, double);                              \
  template void flash_attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                            const T*, const T*, int64_t, int64_t, int64_t,         \
                                            int64_t, double);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
