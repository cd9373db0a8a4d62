#include "kernels/embedding.h"

#include <algorithm>

#include "kernels/parallel.h"

namespace moet {

template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int64_t rows, int64_t N,
                       T mult) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * N))
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = table + int64_t(tokens[r]) * N;
    T* dst = out + r * N;
    for (int64_t c = 0; c < N; ++c) dst[c] = mult * src[c];
  }
}

template <typename T>
void embedding_backward(T* dtable, const int32_t* tokens, const T* dout, int64_t rows, int64_t N,
                        T mult) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (N + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * N))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(N, c0 + kBlock);
    for (int64_t r = 0; r < rows; ++r) {
      T* dst = dtable + int64_t(tokens[r]) * N;
      const T* src = dout + r * N;
      for (int64_t c = c0; c < c1; ++c) dst[c] += mult * src[c];
    }
  }
}

template <typename T>
void add_positions(T* out, const T* pos, int64_t B, int64_t seq, int64_t N, T mult) {
#pragma omp parallel for schedule(static) if (worth_parallel(B * seq * N))
  for (int64_t r = 0; r < B * seq; ++r) {
    const T* p = pos + (r % seq) * N;
    T* o = out + r * N;
    for (int64_t c = 0; c < N; ++c) o[c] += mult * p[c];
  }
}

template <typename T>
void positions_backward(T* dpos, const T* dout, int64_t B, int64_t seq, int64_t N, T mult) {
#pragma omp parallel for schedule(static) if (worth_parallel(B * seq * N))
  for (int64_t t = 0; t < seq; ++t) {
    T* dp = dpos + t * N;
    for (int64_t b = 0; b < B; ++b) {
      const T* d = dout + (b * seq + t) * N;
      for (int64_t c = 0; c < N; ++c) dp[c] += mult * d[c];
    }
  }
}

#define MOET_INSTANTIATE(T)                                                               \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t, T);  \
  template void embedding_backward<T>(T*, const int32_t*, const T*, int64_t, int64_t, T); \
  template void add_positions<T>(T*, const T*, int64_t, int64_t, int64_t, T);             \
  template void positions_backward<T>(T*, const T*, int64_t, int64_t, int64_t, T);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
