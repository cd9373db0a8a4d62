#include "kernels/attention.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemm.h"

namespace moet {

// One (sequence, head) pair per task; each task's GEMMs run on its own thread.
template <typename T>
void attention_forward(T* out, T* probs, const T* q, const T* k, const T* v, int64_t B,
                       int64_t T_len, int64_t H, int64_t d, double scale) {
  const int64_t N = H * d;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t base = b * T_len * N + h * d;
    T* P = probs + bh * T_len * T_len;
    // Scores for the whole square; the masked upper triangle is overwritten below.
    gemm<T>(false, true, T_len, T_len, d, T(scale), q + base, N, k + base, N, T(0), P, T_len);
    for (int64_t t = 0; t < T_len; ++t) {
      T* row = P + t * T_len;
      T maxv = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j <= t; ++j) maxv = std::max(maxv, row[j]);
      T sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        row[j] = std::exp(row[j] - maxv);
        sum += row[j];
      }
      const T inv = T(1) / sum;
      for (int64_t j = 0; j <= t; ++j) row[j] *= inv;
      for (int64_t j = t + 1; j < T_len; ++j) row[j] = 0;
    }
    gemm<T>(false, false, T_len, d, T_len, T(1), P, T_len, v + base, N, T(0), out + base, N);
  }
}

template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const T* probs, int64_t B, int64_t T_len, int64_t H, int64_t d,
                        double scale) {
  const int64_t N = H * d;
  std::vector<T> scratch(size_t(omp_get_max_threads()) * T_len * T_len);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const int64_t base = b * T_len * N + h * d;
    const T* P = probs + bh * T_len * T_len;
    T* dS = scratch.data() + size_t(omp_get_thread_num()) * T_len * T_len;
    // dP = dO V^T, then dS = P * (dP - rowsum(P * dP)) (softmax backward, masked entries P = 0).
    gemm<T>(false, true, T_len, T_len, d, T(1), dout + base, N, v + base, N, T(0), dS, T_len);
    for (int64_t t = 0; t < T_len; ++t) {
      T* row = dS + t * T_len;
      const T* prow = P + t * T_len;
      T dot = 0;
      for (int64_t j = 0; j <= t; ++j) dot += prow[j] * row[j];
      for (int64_t j = 0; j <= t; ++j) row[j] = prow[j] * (row[j] - dot);
      for (int64_t j = t + 1; j < T_len; ++j) row[j] = 0;
    }
    gemm<T>(false, false, T_len, d, T_len, T(scale), dS, T_len, k + base, N, T(0), dq + base, N);
    gemm<T>(true, false, T_len, d, T_len, T(scale), dS, T_len, q + base, N, T(0), dk + base, N);
    gemm<T>(true, false, T_len, d, T_len, T(1), P, T_len, dout + base, N, T(0), dv + base, N);
  }
}

#define MOET_INSTANTIATE(T)                                                                  \
  template void attention_forward<T>(T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                     int64_t, int64_t, double);                              \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,    \
                                      const T*, int64_t, int64_t, int64_t, int64_t, double);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
