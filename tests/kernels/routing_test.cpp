// MoE routing (kernels/routing.cpp): top-k with ties and bias, grouping by expert, gather and
// combine. Checked as kernel_check.h says: forward against a scalar reference, backward against
// finite differences in double, and the buffer convention of each backward.
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
#include "kernels/routing.h"

namespace moet {
namespace {

using namespace testing;

// The K largest of score + bias_mult * bias, best first, ties to the lower index: a stable sort
// by value.
template <typename T>
std::vector<int32_t> topk_reference(const std::vector<T>& scores, const std::vector<T>& bias,
                                    int64_t rows, int64_t M, int64_t K, T bias_mult = 1) {
  std::vector<int32_t> out;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<T> value(static_cast<size_t>(M));
    for (int64_t e = 0; e < M; ++e)
      value[e] = scores[r * M + e] + (bias.empty() ? T(0) : bias_mult * bias[e]);
    std::vector<int32_t> idx(static_cast<size_t>(M));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(),
                     [&](int32_t a, int32_t b) { return value[a] > value[b]; });
    out.insert(out.end(), idx.begin(), idx.begin() + K);
  }
  return out;
}

template <typename T>
std::vector<int32_t> topk_run(const std::vector<T>& scores, const std::vector<T>& bias,
                              int64_t rows, int64_t M, int64_t K, T bias_mult = 1) {
  std::vector<int32_t> selected(size_t(rows * K), -1);
  const ScaledVector<T> b =
      bias.empty() ? ScaledVector<T>{} : ScaledVector<T>{bias.data(), nullptr, bias_mult};
  topk_select<T>(selected.data(), scores.data(), b, rows, M, K);
  return selected;
}

// Multiples of 1/4 in a small range: many exact ties, and score + bias is exact in float too.
Vec quantized(size_t n, uint64_t seed, double range) {
  Vec v = random_vector(n, seed, range);
  for (double& x : v) x = std::round(x * 4) / 4;
  return v;
}

struct TopkShape {
  int64_t rows, M, K;
};
const TopkShape kTopkShapes[] = {{50, 8, 3}, {20, 6, 1}, {20, 6, 6},
                                 {30, 5, 2}, {1, 1, 1},  {2100, 8, 2}};  // last: OpenMP path

TEST(Routing, TopkMatchesStableSortWithTiesAndBias) {
  // The bias's multiplier is a power of two: score + 2 b is exact, in float too.
  const double bias_mult = 2.0;
  for (const TopkShape& s : kTopkShapes)
    for (const bool ties : {false, true})
      for (const bool with_bias : {false, true}) {
        const std::string name =
            shape_name({s.rows, s.M, s.K}) + (ties ? " ties" : "") + (with_bias ? " bias x2" : "");
        const size_t n = size_t(s.rows * s.M);
        // Negative values too (softmax scores plus a negative bias can be).
        const Vec scores = ties ? quantized(n, 151, 1.0) : random_vector(n, 151);
        const Vec bias = !with_bias ? Vec{}
                         : ties     ? quantized(size_t(s.M), 152, 0.5)
                                    : random_vector(size_t(s.M), 152, 0.5);
        EXPECT_EQ(topk_run(scores, bias, s.rows, s.M, s.K, bias_mult),
                  topk_reference(scores, bias, s.rows, s.M, s.K, bias_mult))
            << "double " << name;
        const auto sf = as<float>(scores), bf = as<float>(bias);
        EXPECT_EQ(topk_run(sf, bf, s.rows, s.M, s.K, float(bias_mult)),
                  topk_reference(sf, bf, s.rows, s.M, s.K, float(bias_mult)))
            << "float " << name;
      }
}

TEST(Routing, TopkHandPickedCases) {
  // All equal: the lowest indices, in order.
  EXPECT_EQ(topk_run(Vec{0.5, 0.5, 0.5, 0.5}, Vec{}, 1, 4, 3), (std::vector<int32_t>{0, 1, 2}));
  // A tie for second place goes to the lower index; the order is best first.
  EXPECT_EQ(topk_run(Vec{1, 2, 2, 1}, Vec{}, 1, 4, 2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(topk_run(Vec{1, 2, 2, 1}, Vec{}, 1, 4, 3), (std::vector<int32_t>{1, 2, 0}));
  EXPECT_EQ(topk_run(Vec{0.1, 0.2, 0.9, 0.3}, Vec{}, 1, 4, 4), (std::vector<int32_t>{2, 3, 1, 0}));
  // The bias steers: expert 1 has the lowest score but wins with its bias.
  EXPECT_EQ(topk_run(Vec{0.9, 0.1, 0.5}, Vec{0, 1, 0}, 1, 3, 1), (std::vector<int32_t>{1}));
  // The bias acts times its multiplier: 0.1 + 3 x 0.3 beats 0.9, 0.1 + 0.3 does not.
  EXPECT_EQ(topk_run(Vec{0.9, 0.1}, Vec{0, 0.3}, 1, 2, 1, 3.0), (std::vector<int32_t>{1}));
  EXPECT_EQ(topk_run(Vec{0.9, 0.1}, Vec{0, 0.3}, 1, 2, 1, 1.0), (std::vector<int32_t>{0}));
  // A bias that makes a tie: 0.5 + 0.25 == 0.75, and the lower index wins.
  EXPECT_EQ(topk_run(Vec{0.75, 0.5, 0.0}, Vec{0, 0.25, 0}, 1, 3, 1), (std::vector<int32_t>{0}));
  EXPECT_EQ(topk_run(Vec{0.5, 0.75, 0.0}, Vec{0.25, 0, 0}, 1, 3, 1), (std::vector<int32_t>{0}));
  // All negative values.
  EXPECT_EQ(topk_run(Vec{-3, -1, -2, -5}, Vec{}, 1, 4, 2), (std::vector<int32_t>{1, 2}));
  // Rows are independent.
  EXPECT_EQ(topk_run(Vec{1, 0, 0, 1}, Vec{}, 2, 2, 1), (std::vector<int32_t>{0, 1}));
}

struct Grouping {
  std::vector<int64_t> offsets;
  std::vector<int32_t> order, position;
};
Grouping group(const std::vector<int32_t>& selected, int64_t rows, int64_t M, int64_t K) {
  Grouping g{std::vector<int64_t>(size_t(M + 1), -1), std::vector<int32_t>(size_t(rows * K), -1),
             std::vector<int32_t>(size_t(rows * K), -1)};
  group_by_expert(g.offsets.data(), g.order.data(), g.position.data(), selected.data(), rows, M, K);
  return g;
}

// A realistic selection with at least one expert that nobody picks (its score is very low).
std::vector<int32_t> selection_with_idle_expert(int64_t rows, int64_t M, int64_t K, uint64_t seed) {
  Vec scores = random_vector(size_t(rows * M), seed);
  for (int64_t r = 0; r < rows; ++r) scores[r * M + M / 2] = -10;
  return topk_run(scores, Vec{}, rows, M, K);
}

TEST(Routing, GroupByExpertIsAStableCountingSort) {
  for (const TopkShape& s :
       {TopkShape{13, 5, 2}, TopkShape{1, 3, 1}, TopkShape{40, 8, 3}, TopkShape{9, 4, 4}}) {
    const std::string name = shape_name({s.rows, s.M, s.K});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 161)
                  : topk_run(random_vector(size_t(A), 161), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    EXPECT_EQ(g.offsets[0], 0) << name;
    EXPECT_EQ(g.offsets[s.M], A) << name;
    for (int64_t e = 0; e < s.M; ++e) {
      const int64_t count = std::count(selected.begin(), selected.end(), int32_t(e));
      EXPECT_EQ(g.offsets[e + 1] - g.offsets[e], count) << name << " expert " << e;
      for (int64_t p = g.offsets[e]; p < g.offsets[e + 1]; ++p) {
        EXPECT_EQ(selected[g.order[p]], e) << name << " position " << p;
        if (p > g.offsets[e]) {
          EXPECT_LT(g.order[p - 1], g.order[p]) << name << " not stable";
        }
      }
    }
    std::vector<int32_t> sorted_order = g.order;
    std::sort(sorted_order.begin(), sorted_order.end());
    std::vector<int32_t> identity(static_cast<size_t>(A));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(sorted_order, identity) << name << ": order is not a permutation";
    for (int64_t a = 0; a < A; ++a) EXPECT_EQ(g.order[g.position[a]], a) << name;
  }
}

template <typename T>
Vec gather_run(const Vec& src, const Grouping& g, int64_t rows, int64_t K, int64_t N) {
  auto st = as<T>(src);
  std::vector<T> dst(size_t(rows * K * N), T(kNaN));
  gather_assignments<T>(dst.data(), st.data(), g.order.data(), rows, K, N);
  return widen(dst);
}

template <typename T>
Vec combine_run(const Vec& dst0, const Vec& src, const Vec& weight, const Grouping& g, int64_t rows,
                int64_t K, int64_t N, Accumulate accumulate) {
  auto dst = as<T>(dst0), st = as<T>(src), wt = as<T>(weight);
  combine_assignments<T>(dst.data(), st.data(), weight.empty() ? nullptr : wt.data(),
                         g.position.data(), rows, K, N, accumulate);
  return widen(dst);
}

struct PermuteShape {
  int64_t rows, M, K, N;
};
const PermuteShape kPermuteShapes[] = {
    {13, 5, 2, 3}, {1, 1, 1, 1}, {7, 4, 4, 5}, {300, 8, 2, 32}};  // last: OpenMP path

TEST(Routing, GatherAndCombineMatchReference) {
  for (const PermuteShape& s : kPermuteShapes) {
    const std::string name = shape_name({s.rows, s.M, s.K, s.N});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 171)
                  : topk_run(random_vector(size_t(s.rows * s.M), 171), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    const Vec x = random_vector(size_t(s.rows * s.N), 172);
    Vec want(size_t(A * s.N));
    for (int64_t p = 0; p < A; ++p)
      for (int64_t c = 0; c < s.N; ++c) want[p * s.N + c] = x[(g.order[p] / s.K) * s.N + c];
    EXPECT_EQ(gather_run<double>(x, g, s.rows, s.K, s.N), want) << "double gather " << name;
    EXPECT_EQ(gather_run<float>(float_rounded(x), g, s.rows, s.K, s.N),
              gather_run<double>(float_rounded(x), g, s.rows, s.K, s.N))
        << "float gather " << name;

    const Vec y = random_vector(size_t(A * s.N), 173), w = random_vector(size_t(A), 174);
    for (const Accumulate accumulate : {Accumulate::no, Accumulate::yes})
      for (const bool weighted : {false, true}) {
        const std::string what = name + (accumulate == Accumulate::yes ? " accumulate" : " write") +
                                 (weighted ? " weighted" : "");
        const Vec dst0 = prefilled(size_t(s.rows * s.N), accumulate, 175);
        const Vec weight = weighted ? w : Vec{};
        Vec expect = accumulate == Accumulate::yes ? dst0 : Vec(dst0.size(), 0);
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t k = 0; k < s.K; ++k) {
            const int64_t a = r * s.K + k;
            for (int64_t c = 0; c < s.N; ++c)
              expect[r * s.N + c] += (weighted ? w[a] : 1.0) * y[g.position[a] * s.N + c];
          }
        expect_all_near(combine_run<double>(dst0, y, weight, g, s.rows, s.K, s.N, accumulate),
                        expect, kDoubleTol, "double combine " + what);
        const Vec dst0f = float_rounded(dst0), yf = float_rounded(y), wf = float_rounded(weight);
        Vec expectf = accumulate == Accumulate::yes ? dst0f : Vec(dst0.size(), 0);
        for (int64_t r = 0; r < s.rows; ++r)
          for (int64_t k = 0; k < s.K; ++k) {
            const int64_t a = r * s.K + k;
            for (int64_t c = 0; c < s.N; ++c)
              expectf[r * s.N + c] += (weighted ? wf[a] : 1.0) * yf[g.position[a] * s.N + c];
          }
        expect_all_near(combine_run<float>(dst0f, yf, wf, g, s.rows, s.K, s.N, accumulate), expectf,
                        kFloatTol, "float combine " + what);
      }
  }
}

TEST(Routing, GatherAndCombineAreAdjoint) {
  // The MoE backward uses combine (unweighted) as the backward of gather, and a gather-like
  // loop for the backward of combine: <gather x, y> = <x, combine y> must hold exactly up to
  // rounding, and with weights <combine_w y, x> = <w-scaled gather x, y>.
  for (const PermuteShape& s : kPermuteShapes) {
    const std::string name = shape_name({s.rows, s.M, s.K, s.N});
    const int64_t A = s.rows * s.K;
    const std::vector<int32_t> selected =
        s.K < s.M ? selection_with_idle_expert(s.rows, s.M, s.K, 181)
                  : topk_run(random_vector(size_t(s.rows * s.M), 181), Vec{}, s.rows, s.M, s.K);
    const Grouping g = group(selected, s.rows, s.M, s.K);
    const Vec x = random_vector(size_t(s.rows * s.N), 182), y = random_vector(size_t(A * s.N), 183),
              w = random_vector(size_t(A), 184);
    const Vec gx = gather_run<double>(x, g, s.rows, s.K, s.N);
    const Vec cy =
        combine_run<double>(Vec(x.size(), kNaN), y, Vec{}, g, s.rows, s.K, s.N, Accumulate::no);
    const double lhs = dot(gx, y), rhs = dot(x, cy);
    EXPECT_NEAR(lhs, rhs, 1e-12 * (std::abs(lhs) + double(A * s.N))) << name;

    Vec gx_w = gx;
    for (int64_t p = 0; p < A; ++p)
      for (int64_t c = 0; c < s.N; ++c) gx_w[p * s.N + c] *= w[g.order[p]];
    const Vec cy_w =
        combine_run<double>(Vec(x.size(), kNaN), y, w, g, s.rows, s.K, s.N, Accumulate::no);
    const double lhs_w = dot(cy_w, x), rhs_w = dot(gx_w, y);
    EXPECT_NEAR(lhs_w, rhs_w, 1e-12 * (std::abs(lhs_w) + double(A * s.N))) << name << " weighted";
  }
}

}  // namespace
}  // namespace moet
