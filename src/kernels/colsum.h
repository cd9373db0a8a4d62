// Column sums of a [rows, cols] buffer, times a scale, added into acc[cols], deterministically.
//
// Parameter gradients of biases and norm gains are sums over rows, times the vector's forward
// multiplier (kernels/scaled_vector.h); the scale multiplies each finished sum once, so a scale
// of 1 leaves the bits of the plain sum. Threads split the columns, not the rows, so every column
// is summed over rows 0, 1, 2, ... in order whatever the thread count: the same bits on any
// number of threads (docs/design.md §6), and no per-thread partial buffers to allocate or combine.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/parallel.h"

namespace moet {

// acc[c] += scale * sum_r value(r, c); value is inlined into the loop over a block of columns.
template <typename T, typename Value>
void accumulate_columns(T* acc, T scale, int64_t rows, int64_t cols, Value&& value) {
  // 64 columns: four 512-bit float accumulators, one cache line per row and block for float.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1 && worth_parallel(rows * cols))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, width = std::min(kBlock, cols - c0);
    T sum[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) sum[j] += value(r, c0 + j);
    }
    for (int64_t j = 0; j < width; ++j) acc[c0 + j] += scale * sum[j];
  }
}

// acc[c] += scale * sum_r x[r * cols + c]
template <typename T>
void add_column_sums(T* acc, T scale, const T* x, int64_t rows, int64_t cols) {
  accumulate_columns(acc, scale, rows, cols, [=](int64_t r, int64_t c) { return x[r * cols + c]; });
}

}  // namespace moet
