#include "kernels/routing.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/parallel.h"

namespace moet {

template <typename T>
void topk_select(int32_t* selected, const T* scores, ScaledVector<T> bias, int64_t rows, int64_t M,
                 int64_t K) {
  MOET_CHECK(K >= 1 && K <= M);
  const T* b = bias.value;
  const T bm = bias.mult;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * M))
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = scores + r * M;
    int32_t* out = selected + r * K;
    // A kept entry's value is recomputed from its index, so the sorted list needs no buffer.
    const auto value_of = [&](int64_t e) { return s[e] + (b ? bm * b[e] : T(0)); };
    // Insertion into a sorted list of K: M is small (tens), so this beats a heap.
    int64_t count = 0;
    for (int64_t e = 0; e < M; ++e) {
      const T value = value_of(e);
      if (count == K && !(value > value_of(out[K - 1]))) continue;
      int64_t pos = count < K ? count++ : K - 1;
      while (pos > 0 && value > value_of(out[pos - 1])) {
        out[pos] = out[pos - 1];
        --pos;
      }
      out[pos] = int32_t(e);
    }
  }
}

void group_by_expert(int64_t* offsets, int32_t* order, int32_t* position, const int32_t* selected,
                     int64_t rows, int64_t M, int64_t K) {
  const int64_t A = rows * K;
  // offsets doubles as the cursor: counts, then starts, then (after the scatter) each expert's
  // end, which is the next expert's start once shifted by one.
  std::fill(offsets, offsets + M + 1, int64_t(0));
  for (int64_t a = 0; a < A; ++a) ++offsets[selected[a]];
  int64_t start = 0;
  for (int64_t e = 0; e < M; ++e) {
    const int64_t count = offsets[e];
    offsets[e] = start;
    start += count;
  }
  for (int64_t a = 0; a < A; ++a) {
    const int64_t p = offsets[selected[a]]++;
    order[p] = int32_t(a);
    position[a] = int32_t(p);
  }
  for (int64_t e = M; e > 0; --e) offsets[e] = offsets[e - 1];
  offsets[0] = 0;
}

template <typename T>
void gather_assignments(T* dst, const T* src, const int32_t* order, int64_t rows, int64_t K,
                        int64_t N) {
  const int64_t A = rows * K;
#pragma omp parallel for schedule(static) if (worth_parallel(A * N))
  for (int64_t p = 0; p < A; ++p) {
    const T* s = src + int64_t(order[p] / K) * N;
    T* d = dst + p * N;
    for (int64_t c = 0; c < N; ++c) d[c] = s[c];
  }
}

template <typename T>
void combine_assignments(T* dst, const T* src, const T* weight, const int32_t* position,
                         int64_t rows, int64_t K, int64_t N, Accumulate accumulate) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * K * N))
  for (int64_t r = 0; r < rows; ++r) {
    T* d = dst + r * N;
    if (accumulate == Accumulate::no)
      for (int64_t c = 0; c < N; ++c) d[c] = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t a = r * K + k;
      const T w = weight ? weight[a] : T(1);
      const T* s = src + int64_t(position[a]) * N;
      for (int64_t c = 0; c < N; ++c) d[c] += w * s[c];
    }
  }
}

#define MOET_INSTANTIATE(T)                                                                      \
  template void topk_select<T>(int32_t*, const T*, ScaledVector<T>, int64_t, int64_t, int64_t);  \
  template void gather_assignments<T>(T*, const T*, const int32_t*, int64_t, int64_t, int64_t);  \
  template void combine_assignments<T>(T*, const T*, const T*, const int32_t*, int64_t, int64_t, \
                                       int64_t, Accumulate);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
