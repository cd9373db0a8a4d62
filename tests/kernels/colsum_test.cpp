// Deterministic column sums (kernels/colsum.h). Helpers: kernel_check.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/colsum.h"

namespace moet {
namespace {

using namespace testing;

struct ColsumShape {
  int64_t rows, cols;
};
// The last two split their columns over threads (64 per block); 70 leaves a partial block.
const ColsumShape kColsumShapes[] = {{5, 3}, {1, 1}, {0, 4}, {500, 40}, {300, 200}, {400, 70}};

TEST(Colsum, AddsColumnSumsDeterministically) {
  for (const ColsumShape& s : kColsumShapes) {
    const std::string name = shape_name({s.rows, s.cols});
    const Vec x = random_vector(size_t(s.rows * s.cols), 191);
    const Vec acc0 = prefilled(size_t(s.cols), true, 192);
    Vec want = acc0;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) want[c] += x[r * s.cols + c];
    Vec acc = acc0;
    add_column_sums<double>(acc.data(), 1.0, x.data(), s.rows, s.cols);
    expect_all_near(acc, want, kDoubleTol, "double add_column_sums " + name);
    Vec again = acc0;
    add_column_sums<double>(again.data(), 1.0, x.data(), s.rows, s.cols);
    EXPECT_EQ(again, acc) << "not deterministic " << name;
    // A scale (a bias's forward multiplier) multiplies the sum, not the accumulator.
    Vec scaled = acc0;
    add_column_sums<double>(scaled.data(), 0.7, x.data(), s.rows, s.cols);
    for (int64_t c = 0; c < s.cols; ++c) want[c] = acc0[c] + 0.7 * (acc[c] - acc0[c]);
    expect_all_near(scaled, want, kDoubleTol, "double add_column_sums x 0.7 " + name);

    const Vec xf = float_rounded(x), acc0f = float_rounded(acc0);
    Vec wantf = acc0f;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) wantf[c] += xf[r * s.cols + c];
    auto x32 = as<float>(xf), acc32 = as<float>(acc0f);
    add_column_sums<float>(acc32.data(), 1.0f, x32.data(), s.rows, s.cols);
    // Sums of up to 500 terms of size ~1 in float.
    expect_all_near(widen(acc32), wantf, 1e-4, "float add_column_sums " + name);
    // Every column is summed over the rows in order, so the bits match the plain loop on any
    // number of threads.
    std::vector<float> plain = as<float>(acc0f);
    for (int64_t c = 0; c < s.cols; ++c) {
      float sum = 0;
      for (int64_t r = 0; r < s.rows; ++r) sum += x32[size_t(r * s.cols + c)];
      plain[size_t(c)] += sum;
    }
    EXPECT_EQ(acc32, plain) << "float add_column_sums order " << name;
  }
}

TEST(Colsum, AccumulateColumnsSumsCallbackValues) {
  for (const ColsumShape& s : kColsumShapes) {
    const std::string name = shape_name({s.rows, s.cols});
    const auto value = [](int64_t r, int64_t c) { return std::sin(double(3 * r + 7 * c + 1)); };
    const Vec acc0 = prefilled(size_t(s.cols), true, 193);
    Vec want = acc0;
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) want[c] += value(r, c);
    Vec acc = acc0;
    accumulate_columns(acc.data(), 1.0, s.rows, s.cols, value);
    expect_all_near(acc, want, kDoubleTol, "accumulate_columns " + name);
    Vec scaled = acc0;
    accumulate_columns(scaled.data(), -1.5, s.rows, s.cols, value);
    for (int64_t c = 0; c < s.cols; ++c) want[c] = acc0[c] - 1.5 * (acc[c] - acc0[c]);
    expect_all_near(scaled, want, kDoubleTol, "accumulate_columns x -1.5 " + name);
  }
}

}  // namespace
}  // namespace moet
