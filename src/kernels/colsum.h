// Column sums of a [rows, cols] buffer added into acc[cols], deterministically.
//
// Parameter gradients of biases and norm gains are sums over rows; summing per thread and then
// in a fixed order keeps results identical for a given thread count (DESIGN.md §4).
#pragma once

#include <cstdint>
#include <functional>

namespace moet {

// acc[c] += sum_r value(r, c), where value is supplied per row as a callback writing cols values.
template <typename T>
void accumulate_rows(T* acc, int64_t rows, int64_t cols,
                     const std::function<void(int64_t row, T* out)>& row_values);

// acc[c] += sum_r x[r * cols + c]
template <typename T>
void add_column_sums(T* acc, const T* x, int64_t rows, int64_t cols);

}  // namespace moet
