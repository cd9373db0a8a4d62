// Column sums of a [rows, cols] buffer, times a scale, added into acc[cols], deterministically.
//
// Parameter gradients of biases and norm gains are sums over rows, times the vector's forward
// multiplier (kernels/scaled_vector.h); the scale multiplies each finished sum once, so a scale
// of 1 leaves the bits of the plain sum. Two ways, each giving the same bits on any number of
// threads (docs/design.md §6): accumulate_columns splits the columns, not the rows, so every
// column is summed over rows 0, 1, 2, ... in order, in a pass of its own and with no partial
// buffers; RowChunkSums serves a row pass that makes the terms itself (a norm's backward) and
// sums fixed chunks of rows into partial rows that are then added in chunk order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

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

// Column sums a row pass adds up as it goes, for terms made in that pass (a norm's gain and bias
// gradients), so they are read once while in cache instead of in a second pass over the rows.
// Rows are taken in fixed chunks whose size depends on the row count alone; each chunk sums its
// rows, in order, into its own partial row per sum, and add_to() adds the partials in chunk
// order: the same bits on any number of threads, though not the bits of accumulate_columns.
template <typename T>
class RowChunkSums {
 public:
  // At most kMaxChunks chunks (enough to balance two or more threads), each of kMinRows or more.
  static constexpr int64_t kMaxChunks = 64, kMinRows = 16;

  RowChunkSums(int64_t rows, int64_t cols, int64_t sums)
      : rows_(rows),
        cols_(cols),
        sums_(sums),
        chunk_rows_(std::max(kMinRows, (rows + kMaxChunks - 1) / kMaxChunks)),
        chunks_((rows + chunk_rows_ - 1) / chunk_rows_),
        partials_(size_t(chunks_ * sums * cols)) {}

  int64_t chunks() const { return chunks_; }
  int64_t begin(int64_t chunk) const { return chunk * chunk_rows_; }
  int64_t end(int64_t chunk) const { return std::min(rows_, (chunk + 1) * chunk_rows_); }
  // The chunk's partial row of one sum: cols entries, zero until the pass adds into it.
  T* partial(int64_t chunk, int64_t sum) {
    return partials_.data() + (chunk * sums_ + sum) * cols_;
  }

  // acc[c] += scale * (the column sum of one sum over every row).
  void add_to(T* acc, T scale, int64_t sum) const {
    std::vector<T> total(size_t(cols_), T(0));
    for (int64_t chunk = 0; chunk < chunks_; ++chunk) {
      const T* p = partials_.data() + (chunk * sums_ + sum) * cols_;
#pragma omp simd
      for (int64_t c = 0; c < cols_; ++c) total[size_t(c)] += p[c];
    }
    for (int64_t c = 0; c < cols_; ++c) acc[c] += scale * total[size_t(c)];
  }

 private:
  int64_t rows_, cols_, sums_, chunk_rows_, chunks_;
  std::vector<T> partials_;
};

}  // namespace moet
