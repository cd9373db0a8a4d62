// Deterministic column sums (kernels/colsum.h). Helpers: kernel_check.h.
#include <gtest/gtest.h>
#include <omp.h>

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

// A row pass summing into RowChunkSums: rows in fixed chunks, partials added in chunk order. The
// result is the sum (double, against the plain loop), its float bits follow that documented
// order, and they are the same on one thread and on two. 3000 rows take chunks of 47.
TEST(Colsum, RowChunkSumsAddChunkPartialsInOrderOnAnyThreadCount) {
  for (const ColsumShape& s :
       {ColsumShape{5, 3}, ColsumShape{0, 4}, ColsumShape{300, 70}, ColsumShape{3000, 20}}) {
    const std::string name = shape_name({s.rows, s.cols});
    const Vec x = random_vector(size_t(s.rows * s.cols), 194);
    const auto pass = [&](auto zero, int threads) {
      using T = decltype(zero);
      RowChunkSums<T> sums(s.rows, s.cols, 2);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int64_t chunk = 0; chunk < sums.chunks(); ++chunk)
        for (int64_t r = sums.begin(chunk); r < sums.end(chunk); ++r)
          for (int64_t c = 0; c < s.cols; ++c) {
            sums.partial(chunk, 0)[c] += T(x[size_t(r * s.cols + c)]);
            sums.partial(chunk, 1)[c] += T(2) * T(x[size_t(r * s.cols + c)]);
          }
      std::vector<T> acc(size_t(s.cols), T(1));
      sums.add_to(acc.data(), T(0.5), 1);  // 1 + 0.5 * (2 x), summed: 1 + the column sum
      return acc;
    };
    Vec want(size_t(s.cols), 1);
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t c = 0; c < s.cols; ++c) want[c] += x[r * s.cols + c];
    expect_all_near(pass(0.0, 2), want, kDoubleTol, "double " + name);

    const std::vector<float> one = pass(0.0f, 1), two = pass(0.0f, 2);
    EXPECT_EQ(one, two) << "thread count changed the bits " << name;
    const int64_t chunk_rows = std::max<int64_t>(16, (s.rows + 63) / 64);
    std::vector<float> ordered(size_t(s.cols), 0);
    for (int64_t r0 = 0; r0 < s.rows; r0 += chunk_rows) {
      std::vector<float> part(size_t(s.cols), 0);
      for (int64_t r = r0; r < std::min(s.rows, r0 + chunk_rows); ++r)
        for (int64_t c = 0; c < s.cols; ++c) part[c] += 2.0f * float(x[size_t(r * s.cols + c)]);
      for (int64_t c = 0; c < s.cols; ++c) ordered[c] += part[c];
    }
    for (float& v : ordered) v = 1.0f + 0.5f * v;
    EXPECT_EQ(one, ordered) << "not the chunk order " << name;
  }
}

}  // namespace
}  // namespace moet
