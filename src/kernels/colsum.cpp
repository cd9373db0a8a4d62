#include "kernels/colsum.h"

#include <vector>

#include "kernels/parallel.h"

namespace moet {

template <typename T>
void accumulate_rows(T* acc, int64_t rows, int64_t cols,
                     const std::function<void(int64_t row, T* out)>& row_values) {
  const int threads = worth_parallel(rows * cols) ? omp_get_max_threads() : 1;
  std::vector<T> partial(size_t(threads) * cols, T(0));
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    T* mine = partial.data() + size_t(tid) * cols;
    std::vector<T> row(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      row_values(r, row.data());
      for (int64_t c = 0; c < cols; ++c) mine[c] += row[c];
    }
  }
  for (int t = 0; t < threads; ++t)
    for (int64_t c = 0; c < cols; ++c) acc[c] += partial[size_t(t) * cols + c];
}

template <typename T>
void add_column_sums(T* acc, const T* x, int64_t rows, int64_t cols) {
  accumulate_rows<T>(acc, rows, cols, [&](int64_t r, T* out) {
    const T* xr = x + r * cols;
    for (int64_t c = 0; c < cols; ++c) out[c] = xr[c];
  });
}

template void accumulate_rows<float>(float*, int64_t, int64_t,
                                     const std::function<void(int64_t, float*)>&);
template void accumulate_rows<double>(double*, int64_t, int64_t,
                                      const std::function<void(int64_t, double*)>&);
template void add_column_sums<float>(float*, const float*, int64_t, int64_t);
template void add_column_sums<double>(double*, const double*, int64_t, int64_t);

}  // namespace moet
