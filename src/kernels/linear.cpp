#include "kernels/linear.h"

#include "kernels/colsum.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

namespace moet {

template <typename T>
void linear_forward(T* out, const T* x, const T* W, const T* bias, int64_t rows, int64_t in,
                    int64_t out_dim, T mult, bool accumulate) {
  if (rows == 0) return;
  gemm<T>(false, false, rows, out_dim, in, mult, x, in, W, out_dim, accumulate ? T(1) : T(0), out,
          out_dim);
  if (!bias) return;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * out_dim))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < out_dim; ++c) out[r * out_dim + c] += bias[c];
}

template <typename T>
void linear_backward(T* dx, T* dW, T* dbias, const T* dout, const T* x, const T* W, int64_t rows,
                     int64_t in, int64_t out_dim, T mult, bool accumulate_dx) {
  if (rows == 0) return;
  gemm<T>(true, false, in, out_dim, rows, mult, x, in, dout, out_dim, T(1), dW, out_dim);
  if (dbias) add_column_sums(dbias, dout, rows, out_dim);
  if (dx)
    gemm<T>(false, true, rows, in, out_dim, mult, dout, out_dim, W, out_dim,
            accumulate_dx ? T(1) : T(0), dx, in);
}

#define MOET_INSTANTIATE(T)                                                                   \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, \
                                  T, bool);                                                   \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                   int64_t, T, bool);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
