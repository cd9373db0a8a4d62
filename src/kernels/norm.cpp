#include "kernels/norm.h"

#include <cmath>

#include "kernels/colsum.h"
#include "kernels/parallel.h"

namespace moet {

namespace {

// One row of layernorm_forward; mean and rstd point at the row's statistics.
template <typename T>
inline void layernorm_row(T* o, T* mean, T* rstd, const T* xr, const T* g, T gm, const T* b, T bm,
                          int64_t cols, double eps) {
  // Statistics in double: rows are short, and this keeps float rows accurate.
  double sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < cols; ++c) sum += xr[c];
  const double m = sum / cols;
#pragma omp simd reduction(+ : sq)
  for (int64_t c = 0; c < cols; ++c) sq += (xr[c] - m) * (xr[c] - m);
  const double s = 1.0 / std::sqrt(sq / cols + eps);
  *mean = T(m);
  *rstd = T(s);
  // A multiplied bias is its own loop: xhat * g + bm * b could contract either product into
  // an FMA, so bm == 1 keeps the expression of a model without multipliers (same bits).
  if (bm == T(1))
    for (int64_t c = 0; c < cols; ++c) o[c] = T((xr[c] - m) * s) * (gm * g[c]) + b[c];
  else
    for (int64_t c = 0; c < cols; ++c) o[c] = T((xr[c] - m) * s) * (gm * g[c]) + bm * b[c];
}

// One row of rmsnorm_forward.
template <typename T>
inline void rmsnorm_row(T* o, T* rstd, const T* xr, const T* g, T gm, int64_t cols, double eps) {
  double sq = 0;
#pragma omp simd reduction(+ : sq)
  for (int64_t c = 0; c < cols; ++c) sq += double(xr[c]) * xr[c];
  const T s = T(1.0 / std::sqrt(sq / cols + eps));
  *rstd = s;
  if (g)
    for (int64_t c = 0; c < cols; ++c) o[c] = xr[c] * s * (gm * g[c]);
  else
    for (int64_t c = 0; c < cols; ++c) o[c] = xr[c] * s;
}

// One row of the residual add, in the expression the model's unfused adds used.
template <typename T>
inline void add_scaled_row(T* x, const T* a, const T* b, T scale, int64_t cols) {
#pragma omp simd
  for (int64_t c = 0; c < cols; ++c) x[c] = a[c] + scale * b[c];
}

}  // namespace

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* x, ScaledVector<T> gain,
                       ScaledVector<T> bias, int64_t rows, int64_t cols, double eps) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t r = 0; r < rows; ++r)
    layernorm_row(out + r * cols, mean + r, rstd + r, x + r * cols, gain.value, gain.mult,
                  bias.value, bias.mult, cols, eps);
}

template <typename T>
void add_layernorm_forward(T* x, const T* a, const T* b, T scale, T* out, T* mean, T* rstd,
                           ScaledVector<T> gain, ScaledVector<T> bias, int64_t rows, int64_t cols,
                           double eps) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t r = 0; r < rows; ++r) {
    add_scaled_row(x + r * cols, a + r * cols, b + r * cols, scale, cols);
    layernorm_row(out + r * cols, mean + r, rstd + r, x + r * cols, gain.value, gain.mult,
                  bias.value, bias.mult, cols, eps);
  }
}

template <typename T>
void layernorm_backward(T* dx, ScaledVector<T> gain, ScaledVector<T> bias, const T* dout,
                        const T* x, const T* mean, const T* rstd, int64_t rows, int64_t cols) {
  const T* gv = gain.value;
  const T gm = gain.mult;
  // The gain's and bias's gradients are summed in the same pass: 0 = gain, 1 = bias.
  RowChunkSums<T> sums(rows, cols, 2);
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t chunk = 0; chunk < sums.chunks(); ++chunk) {
    T* dgain = sums.partial(chunk, 0);
    T* dbias = sums.partial(chunk, 1);
    for (int64_t r = sums.begin(chunk); r < sums.end(chunk); ++r) {
      const T* xr = x + r * cols;
      const T* g = dout + r * cols;
      const T m = mean[r], s = rstd[r];
      T mean_dxhat = 0, mean_dxhat_xhat = 0;
#pragma omp simd reduction(+ : mean_dxhat, mean_dxhat_xhat)
      for (int64_t c = 0; c < cols; ++c) {
        const T dxhat = g[c] * (gm * gv[c]);
        mean_dxhat += dxhat;
        mean_dxhat_xhat += dxhat * (xr[c] - m) * s;
      }
      mean_dxhat /= T(cols);
      mean_dxhat_xhat /= T(cols);
      T* d = dx + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) {
        const T xhat = (xr[c] - m) * s;
        d[c] += s * (g[c] * (gm * gv[c]) - mean_dxhat - xhat * mean_dxhat_xhat);
        dgain[c] += g[c] * xhat;
        dbias[c] += g[c];
      }
    }
  }
  if (gain.grad) sums.add_to(gain.grad, gm, 0);
  if (bias.grad) sums.add_to(bias.grad, bias.mult, 1);
}

template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* x, ScaledVector<T> gain, int64_t rows, int64_t cols,
                     double eps) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t r = 0; r < rows; ++r)
    rmsnorm_row(out + r * cols, rstd + r, x + r * cols, gain.value, gain.mult, cols, eps);
}

template <typename T>
void add_rmsnorm_forward(T* x, const T* a, const T* b, T scale, T* out, T* rstd,
                         ScaledVector<T> gain, int64_t rows, int64_t cols, double eps) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t r = 0; r < rows; ++r) {
    add_scaled_row(x + r * cols, a + r * cols, b + r * cols, scale, cols);
    rmsnorm_row(out + r * cols, rstd + r, x + r * cols, gain.value, gain.mult, cols, eps);
  }
}

template <typename T>
void rmsnorm_backward(T* dx, ScaledVector<T> gain, const T* dout, const T* x, const T* rstd,
                      int64_t rows, int64_t cols) {
  const T* gv = gain.value;
  const T gm = gain.mult;
  // The gain's gradient is summed in the same pass (a norm without gain has none).
  RowChunkSums<T> sums(rows, gain.grad ? cols : 0, 1);
#pragma omp parallel for schedule(static) if (worth_parallel(rows * cols))
  for (int64_t chunk = 0; chunk < sums.chunks(); ++chunk) {
    T* dgain = gain.grad ? sums.partial(chunk, 0) : nullptr;
    for (int64_t r = sums.begin(chunk); r < sums.end(chunk); ++r) {
      const T* xr = x + r * cols;
      const T* g = dout + r * cols;
      const T s = rstd[r];
      T mean_dxhat_xhat = 0;
#pragma omp simd reduction(+ : mean_dxhat_xhat)
      for (int64_t c = 0; c < cols; ++c)
        mean_dxhat_xhat += g[c] * (gv ? gm * gv[c] : T(1)) * xr[c] * s;
      mean_dxhat_xhat /= T(cols);
      T* d = dx + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        d[c] += s * (g[c] * (gv ? gm * gv[c] : T(1)) - xr[c] * s * mean_dxhat_xhat);
      if (dgain)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) dgain[c] += g[c] * xr[c] * s;
    }
  }
  if (gain.grad) sums.add_to(gain.grad, gm, 0);
}

#define MOET_INSTANTIATE(T)                                                                      \
  template void layernorm_forward<T>(T*, T*, T*, const T*, ScaledVector<T>, ScaledVector<T>,     \
                                     int64_t, int64_t, double);                                  \
  template void layernorm_backward<T>(T*, ScaledVector<T>, ScaledVector<T>, const T*, const T*,  \
                                      const T*, const T*, int64_t, int64_t);                     \
  template void rmsnorm_forward<T>(T*, T*, const T*, ScaledVector<T>, int64_t, int64_t, double); \
  template void add_layernorm_forward<T>(T*, const T*, const T*, T, T*, T*, T*, ScaledVector<T>, \
                                         ScaledVector<T>, int64_t, int64_t, double);             \
  template void add_rmsnorm_forward<T>(T*, const T*, const T*, T, T*, T*, ScaledVector<T>,       \
                                       int64_t, int64_t, double);                                \
  template void rmsnorm_backward<T>(T*, ScaledVector<T>, const T*, const T*, const T*, int64_t,  \
                                    int64_t);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
