// Softmax pieces over one contiguous row, vectorised for float: the inner loops of attention,
// the cross-entropy and the router (whose sigmoid scores, the two-class softmax, live here too).
// Double keeps std::exp and plain loops (gradient checks).
//
// Float rows are summed in the vector's lanes (kernels/simd.h) and then across lanes, a fixed
// order, so a row gives the same bits on every call (determinism does not depend on alignment or
// thread).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/fast_math.h"

namespace moet {

template <typename T>
struct RowExp {
  T max;  // the largest entry of the row before the call
  T sum;  // sum of exp(row - max)
};

// row[j] = exp(row[j] - shift) for j < n; returns the sum.
template <typename T>
inline T exp_minus_row(T* row, int64_t n, T shift) {
  T sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - shift);
    sum += row[j];
  }
  return sum;
}

// The largest of row[0, n) (-inf when n = 0).
template <typename T>
inline T row_max(const T* row, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, row[j]);
  return m;
}

// row[j] = exp(row[j] - max) for j < n (n >= 1); returns the max and the sum.
template <typename T>
inline RowExp<T> exp_shift_row(T* row, int64_t n) {
  const T maxv = row_max(row, n);
  return {maxv, exp_minus_row(row, n, maxv)};
}

// row[j] *= factor for j < n.
template <typename T>
inline void scale_row(T* row, int64_t n, T factor) {
  for (int64_t j = 0; j < n; ++j) row[j] *= factor;
}

// Softmax backward on one row: ds[j] = p[j] * (dp[j] - sum_i p[i] dp[i]) in place on dp.
template <typename T>
inline void softmax_backward_row(T* dp, const T* p, int64_t n) {
  T dot = 0;
  for (int64_t j = 0; j < n; ++j) dot += p[j] * dp[j];
  for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - dot);
}

// out[j] = 1 / (1 + exp(-x[j])) for j < n.
template <typename T>
inline void sigmoid_row(T* out, const T* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = T(1) / (T(1) + std::exp(-x[j]));
}

#ifdef MOET_SIMD
template <>
inline void sigmoid_row<float>(float* out, const float* x, int64_t n) {
  using namespace simd;
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    const V e = fast::exp(sub(zero(), load(m, x + j)));
    store(out + j, m, div(broadcast(1.0f), add(broadcast(1.0f), e)));
  }
}

template <>
inline float exp_minus_row<float>(float* row, int64_t n, float shift) {
  using namespace simd;
  const V s = broadcast(shift);
  V vsum = zero();
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    const V e = fast::exp(sub(load(m, row + j), s));
    store(row + j, m, e);
    vsum = add(m, vsum, e);
  }
  return reduce_add(vsum);
}

template <>
inline float row_max<float>(const float* row, int64_t n) {
  using namespace simd;
  V vmax = broadcast(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    vmax = max(m, vmax, load(m, row + j));
  }
  return reduce_max(vmax);
}

template <>
inline void scale_row<float>(float* row, int64_t n, float factor) {
  using namespace simd;
  const V f = broadcast(factor);
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    store(row + j, m, mul(f, load(m, row + j)));
  }
}

template <>
inline void softmax_backward_row<float>(float* dp, const float* p, int64_t n) {
  using namespace simd;
  V vdot = zero();
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    vdot = fma(load(m, p + j), load(m, dp + j), vdot);
  }
  const V dot = broadcast(reduce_add(vdot));
  for (int64_t j = 0; j < n; j += kLanes) {
    const Mask m = first(n - j);
    const V pj = load(m, p + j);
    store(dp + j, m, mul(pj, sub(load(m, dp + j), dot)));
  }
}
#endif

// Online softmax on one query row's scores against keys [j0, j0 + cols), of which the first
// `visible` are at or before the query: the row becomes exp(score - running max) (zero past
// `visible`), and when the running max grows, what the row has gathered so far (its sum and its
// output o[0, d)) is rescaled to the new max. The first key block starts the row.
template <typename T>
inline void online_softmax_row(T* row, int64_t visible, int64_t cols, bool first, T& max, T& sum,
                               T* o, int64_t d) {
  visible = std::min(visible, cols);
  if (visible <= 0) {
    std::fill(row, row + cols, T(0));
    return;
  }
  const T new_max = first ? row_max(row, visible) : std::max(max, row_max(row, visible));
  const T block_sum = exp_minus_row(row, visible, new_max);
  std::fill(row + visible, row + cols, T(0));
  if (first) {
    sum = block_sum;
  } else {
    if (new_max > max) {
      const T shrink = std::exp(max - new_max);
      scale_row(o, d, shrink);
      sum *= shrink;
    }
    sum += block_sum;
  }
  max = new_max;
}

}  // namespace moet
