// gemm against gemm_reference in double: every transpose, odd sizes, padded leading dimensions,
// alpha/beta (beta = 0 over NaN), k = 0, the primitive cache under MoE-like varying m, calls from
// inside an OpenMP region, and the bf16 path against fp64 with a bf16 tolerance.
#include "kernels/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/bf16.h"

namespace moet {
namespace {

struct GemmCase {
  Transpose trans_a = Transpose::no, trans_b = Transpose::no;
  int64_t m = 1, n = 1, k = 1;
  int64_t pad = 0;  // extra elements at the end of every row of A, B and C
  double alpha = 1, beta = 0;
};

std::string describe(const GemmCase& g) {
  return (g.trans_a == Transpose::yes ? "T" : "N") +
         std::string(g.trans_b == Transpose::yes ? "T" : "N") + " m=" + std::to_string(g.m) +
         " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
         " pad=" + std::to_string(g.pad) + " alpha=" + std::to_string(g.alpha) +
         " beta=" + std::to_string(g.beta);
}

// Written into C's padding; it must survive the call.
constexpr double kSentinel = 7.25;

// Operands in float-representable values, laid out as gemm reads them: A is m x k (k x m when
// transposed), B is k x n (n x k), each row followed by `pad` unused elements.
struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<double> a, b, c;
};

Operands make_operands(const GemmCase& g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Operands ops;
  const int64_t a_rows = g.trans_a == Transpose::yes ? g.k : g.m,
                a_cols = g.trans_a == Transpose::yes ? g.m : g.k;
  const int64_t b_rows = g.trans_b == Transpose::yes ? g.n : g.k,
                b_cols = g.trans_b == Transpose::yes ? g.k : g.n;
  ops.lda = a_cols + g.pad;
  ops.ldb = b_cols + g.pad;
  ops.ldc = g.n + g.pad;
  ops.a.assign(size_t(std::max<int64_t>(a_rows * ops.lda, 1)), 0.0);
  ops.b.assign(size_t(std::max<int64_t>(b_rows * ops.ldb, 1)), 0.0);
  ops.c.assign(size_t(std::max<int64_t>(g.m * ops.ldc, 1)), kSentinel);
  for (int64_t i = 0; i < a_rows; ++i)
    for (int64_t j = 0; j < a_cols; ++j) ops.a[i * ops.lda + j] = uniform(rng);
  for (int64_t i = 0; i < b_rows; ++i)
    for (int64_t j = 0; j < b_cols; ++j) ops.b[i * ops.ldb + j] = uniform(rng);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) ops.c[i * ops.ldc + j] = uniform(rng);
  return ops;
}

template <typename T>
std::vector<T> convert(const std::vector<double>& values) {
  return std::vector<T>(values.begin(), values.end());
}

std::vector<double> absolute(const std::vector<double>& values) {
  std::vector<double> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), [](double v) { return std::abs(v); });
  return out;
}

// Checks `got` against the fp64 reference of `ops` with |error| <= rel_tol * scale, where scale
// = |alpha| sum_p |a_ip b_pj| + |beta c_ij| is what rounding errors are proportional to. C's
// padding must still hold the sentinel.
template <typename T>
void expect_matches_reference(const GemmCase& g, const Operands& ops, const std::vector<T>& got,
                              double rel_tol, const std::string& what) {
  std::vector<double> expected = ops.c, scale = absolute(ops.c);
  gemm_reference<double>(g.trans_a, g.trans_b, g.m, g.n, g.k, g.alpha, ops.a.data(), ops.lda,
                         ops.b.data(), ops.ldb, g.beta, expected.data(), ops.ldc);
  gemm_reference<double>(g.trans_a, g.trans_b, g.m, g.n, g.k, std::abs(g.alpha),
                         absolute(ops.a).data(), ops.lda, absolute(ops.b).data(), ops.ldb,
                         std::abs(g.beta), scale.data(), ops.ldc);
  int reported = 0;
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < ops.ldc; ++j) {
      const size_t at = size_t(i * ops.ldc + j);
      const double value = double(got[at]);
      const bool ok = j < g.n ? std::abs(value - expected[at]) <= rel_tol * scale[at] + 1e-30
                              : value == kSentinel;
      if (!ok && reported++ < 5)
        ADD_FAILURE() << what << " " << describe(g) << " at (" << i << "," << j << "): got "
                      << value << ", expected " << (j < g.n ? expected[at] : kSentinel)
                      << " (scale " << scale[at] << ")";
    }
}

// fp32 accumulation of k products: a worst-case bound of k units in the last place, plus a few
// for alpha, beta and the final add.
double fp32_tolerance(int64_t k) { return double(k + 8) * FLT_EPSILON; }
double fp64_tolerance(int64_t k) { return double(k + 8) * DBL_EPSILON; }

template <typename T>
std::vector<T> run_gemm(const GemmCase& g, const Operands& ops) {
  const std::vector<T> a = convert<T>(ops.a), b = convert<T>(ops.b);
  std::vector<T> c = convert<T>(ops.c);
  gemm<T>(g.trans_a, g.trans_b, g.m, g.n, g.k, T(g.alpha), a.data(), ops.lda, b.data(), ops.ldb,
          T(g.beta), c.data(), ops.ldc);
  return c;
}

template <typename T>
void check_case(const GemmCase& g, uint32_t seed = 1) {
  const Operands ops = make_operands(g, seed);
  const double tol = std::is_same_v<T, float> ? fp32_tolerance(g.k) : fp64_tolerance(g.k);
  expect_matches_reference(g, ops, run_gemm<T>(g, ops), tol,
                           std::is_same_v<T, float> ? "float" : "double");
}

std::vector<GemmCase> transpose_and_size_cases() {
  const int64_t sizes[][3] = {{1, 1, 1},    {3, 1, 17},    {1, 17, 3},    {17, 3, 129},
                              {129, 17, 3}, {65, 129, 33}, {64, 128, 256}};
  std::vector<GemmCase> out;
  for (const Transpose ta : {Transpose::no, Transpose::yes})
    for (const Transpose tb : {Transpose::no, Transpose::yes})
      for (const auto& s : sizes) out.push_back({ta, tb, s[0], s[1], s[2]});
  return out;
}

std::vector<GemmCase> padded_cases() {
  std::vector<GemmCase> out;
  for (const Transpose ta : {Transpose::no, Transpose::yes})
    for (const Transpose tb : {Transpose::no, Transpose::yes})
      for (int64_t pad : {1, 7, 64}) out.push_back({ta, tb, 33, 17, 45, pad});
  return out;
}

std::vector<GemmCase> alpha_beta_cases() {
  const double pairs[][2] = {{1, 0}, {0.5, 0}, {1, 1}, {-2, 0.25}, {0.125, 1}, {0, 1}};
  std::vector<GemmCase> out;
  for (const auto& p : pairs)
    for (const Transpose tb : {Transpose::no, Transpose::yes})
      out.push_back({Transpose::no, tb, 19, 23, 31, 3, p[0], p[1]});
  return out;
}

TEST(GemmFloat, EveryTransposeAtOddSizes) {
  for (const GemmCase& g : transpose_and_size_cases()) check_case<float>(g);
}

TEST(GemmFloat, LeadingDimensionsLargerThanRows) {
  for (const GemmCase& g : padded_cases()) check_case<float>(g);
}

TEST(GemmFloat, AlphaAndBeta) {
  for (const GemmCase& g : alpha_beta_cases()) check_case<float>(g);
}

TEST(GemmDouble, MatchesReference) {
  for (const GemmCase& g : transpose_and_size_cases()) check_case<double>(g);
  for (const GemmCase& g : padded_cases()) check_case<double>(g);
  for (const GemmCase& g : alpha_beta_cases()) check_case<double>(g);
}

// Larger than the loop's threading threshold, so the double path runs its parallel branch.
TEST(GemmDouble, ThreadedSizes) {
  check_case<double>({Transpose::no, Transpose::no, 130, 70, 90, 2, 0.5, 1});
  check_case<double>({Transpose::yes, Transpose::yes, 70, 130, 90, 0, 1, 0});
}

template <typename T>
void check_beta_zero_ignores_nan() {
  GemmCase g{Transpose::yes, Transpose::no, 21, 13, 9, 2, 1.5, 0};
  Operands ops = make_operands(g, 3);
  std::vector<T> c = convert<T>(ops.c);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j)
      c[size_t(i * ops.ldc + j)] = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> a = convert<T>(ops.a), b = convert<T>(ops.b);
  gemm<T>(g.trans_a, g.trans_b, g.m, g.n, g.k, T(g.alpha), a.data(), ops.lda, b.data(), ops.ldb,
          T(0), c.data(), ops.ldc);
  // ops.c is only read through beta = 0, so its values do not matter to the reference.
  expect_matches_reference(g, ops, c, fp32_tolerance(g.k), "beta=0 over NaN");
}

TEST(GemmFloat, BetaZeroNeverReadsC) { check_beta_zero_ignores_nan<float>(); }
TEST(GemmDouble, BetaZeroNeverReadsC) { check_beta_zero_ignores_nan<double>(); }

TEST(GemmFloat, KZeroScalesC) {
  for (double beta : {0.0, 1.0, -0.5}) {
    GemmCase g{Transpose::no, Transpose::no, 5, 6, 0, 2, 1, beta};
    Operands ops = make_operands(g, 4);
    std::vector<float> c = convert<float>(ops.c);
    if (beta == 0)
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j) c[size_t(i * ops.ldc + j)] = NAN;
    gemm<float>(Transpose::no, Transpose::no, g.m, g.n, 0, 1.0f, nullptr, 1, nullptr, g.n,
                float(beta), c.data(), ops.ldc);
    expect_matches_reference(g, ops, c, 0.0, "k=0");
  }
}

TEST(GemmFloat, EmptyOutputTouchesNothing) {
  gemm<float>(Transpose::no, Transpose::no, 0, 5, 3, 1.0f, nullptr, 3, nullptr, 5, 0.0f, nullptr,
              5);
  gemm<float>(Transpose::yes, Transpose::yes, 4, 0, 3, 1.0f, nullptr, 4, nullptr, 3, 0.0f, nullptr,
              1);
  gemm_bf16(Transpose::no, Transpose::no, 0, 0, 0, 1.0f, nullptr, 1, nullptr, 1, 0.0f, nullptr, 1);
  SUCCEED();
}

TEST(GemmFloat, RepeatedCallsAreBitIdentical) {
  const GemmCase g{Transpose::no, Transpose::yes, 77, 130, 96, 0, 1, 1};
  const Operands ops = make_operands(g, 5);
  const std::vector<float> first = run_gemm<float>(g, ops), second = run_gemm<float>(g, ops);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
}

// The MoE case: the same expert weights (n, k fixed) meet a different token count m each call.
// Each distinct m builds one primitive; every later call with that m reuses it.
TEST(GemmCache, VaryingTokenCountsReusePrimitives) {
  gemm_cache_clear();
  const int64_t token_counts[] = {37, 5, 80, 37, 1, 5, 80, 80, 37, 1};
  const int64_t distinct = 4;
  uint32_t seed = 10;
  for (int64_t m : token_counts)
    check_case<float>({Transpose::no, Transpose::no, m, 48, 32}, seed++);
  GemmCacheStats stats = gemm_cache_stats();
  EXPECT_EQ(stats.misses, distinct);
  EXPECT_EQ(stats.hits, int64_t(std::size(token_counts)) - distinct);
  EXPECT_EQ(stats.entries, distinct);

  // A different beta or layout is a different primitive, not a wrong reuse.
  check_case<float>({Transpose::no, Transpose::no, 37, 48, 32, 0, 1, 1}, seed++);
  check_case<float>({Transpose::no, Transpose::yes, 37, 48, 32}, seed++);
  stats = gemm_cache_stats();
  EXPECT_EQ(stats.misses, distinct + 2);
}

TEST(GemmCache, EvictsLeastRecentlyUsed) {
  const int64_t default_capacity = gemm_cache_stats().capacity;
  gemm_cache_clear();
  gemm_cache_set_capacity(3);
  for (int64_t m : {1, 2, 3, 1, 4})
    check_case<float>({Transpose::no, Transpose::no, m, 8, 8});  // evicts m=2
  EXPECT_EQ(gemm_cache_stats().entries, 3);
  EXPECT_EQ(gemm_cache_stats().misses, 4);
  check_case<float>({Transpose::no, Transpose::no, 1, 8, 8});  // still cached: used after m=2
  EXPECT_EQ(gemm_cache_stats().misses, 4);
  check_case<float>({Transpose::no, Transpose::no, 2, 8, 8});  // was evicted
  EXPECT_EQ(gemm_cache_stats().misses, 5);
  gemm_cache_set_capacity(default_capacity);
}

TEST(GemmCache, UncachedModeStillCorrect) {
  gemm_cache_clear();
  gemm_set_caching(false);
  check_case<float>({Transpose::yes, Transpose::no, 9, 10, 11});
  check_case<float>({Transpose::yes, Transpose::no, 9, 10, 11});
  const GemmCacheStats stats = gemm_cache_stats();
  gemm_set_caching(true);
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.misses, 2);
}

// One small GEMM per thread, as attention does per head: every thread runs the same shape (one
// primitive executed concurrently, built outside the region) and a shape of its own (built
// inside the region).
TEST(GemmFloat, ConcurrentCallsInsideParallelRegion) {
  const int threads = std::max(2, omp_get_max_threads());
  const GemmCase shared{Transpose::no, Transpose::yes, 96, 80, 200, 16, 0.5, 0};
  check_case<float>(shared);  // builds the shared primitive outside any region
  std::vector<GemmCase> own_cases;
  std::vector<Operands> shared_ops, own_ops;
  for (int t = 0; t < threads; ++t) {
    own_cases.push_back(
        {Transpose::yes, Transpose{t % 2 == 1}, 17 + t, 33, 2049, 0, 1, 1});  // long k
    shared_ops.push_back(make_operands(shared, 100 + t));
    own_ops.push_back(make_operands(own_cases.back(), 200 + t));
  }
  std::vector<std::vector<float>> shared_out(threads), own_out(threads);
  int ran_on = 0;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    ran_on = omp_get_num_threads();
    for (int rep = 0; rep < 5; ++rep) {
      shared_out[t] = run_gemm<float>(shared, shared_ops[t]);
      own_out[t] = run_gemm<float>(own_cases[t], own_ops[t]);
    }
  }
  EXPECT_EQ(ran_on, threads);
  for (int t = 0; t < threads; ++t) {
    expect_matches_reference(shared, shared_ops[t], shared_out[t], fp32_tolerance(shared.k),
                             "shared shape, thread " + std::to_string(t));
    expect_matches_reference(own_cases[t], own_ops[t], own_out[t], fp32_tolerance(own_cases[t].k),
                             "own shape, thread " + std::to_string(t));
  }
}

TEST(GemmCache, NamesTheImplementation) {
  EXPECT_FALSE(gemm_implementation_name(false, Transpose::no, Transpose::yes, 64, 32, 16).empty());
  EXPECT_FALSE(gemm_implementation_name(true, Transpose::yes, Transpose::no, 64, 32, 16).empty());
}

std::vector<float> run_gemm_bf16(const GemmCase& g, const Operands& ops) {
  std::vector<uint16_t> a(ops.a.size()), b(ops.b.size());
  const std::vector<float> a32 = convert<float>(ops.a), b32 = convert<float>(ops.b);
  float_to_bf16(a32.data(), a.data(), int64_t(a.size()));
  float_to_bf16(b32.data(), b.data(), int64_t(b.size()));
  std::vector<float> c = convert<float>(ops.c);
  gemm_bf16(g.trans_a, g.trans_b, g.m, g.n, g.k, float(g.alpha), a.data(), ops.lda, b.data(),
            ops.ldb, float(g.beta), c.data(), ops.ldc);
  return c;
}

// The same operands with A and B rounded to bf16, as gemm_bf16 sees them.
Operands rounded_to_bf16(Operands ops) {
  ops.a = testing::bf16_rounded(ops.a);
  ops.b = testing::bf16_rounded(ops.b);
  return ops;
}

TEST(GemmBf16, MatchesFp64Reference) {
  std::vector<GemmCase> cases = transpose_and_size_cases();
  for (const GemmCase& g : padded_cases()) cases.push_back(g);
  for (const GemmCase& g : alpha_beta_cases()) cases.push_back(g);
  for (const GemmCase& g : cases) {
    const Operands ops = make_operands(g, 7);
    const std::vector<float> got = run_gemm_bf16(g, ops);
    // Against the unrounded inputs: bf16 keeps 8 significant bits, so each input carries up to
    // 2^-8 relative rounding error and each product up to ~2^-7.
    expect_matches_reference(g, ops, got, std::ldexp(1.0, -7) + fp32_tolerance(g.k),
                             "bf16 vs fp64 of fp32 inputs");
    // Against the inputs it was actually given: only fp32 accumulation error remains.
    expect_matches_reference(g, rounded_to_bf16(ops), got, fp32_tolerance(g.k),
                             "bf16 vs fp64 of bf16 inputs");
  }
}

TEST(GemmBf16, KZeroAndNaNInC) {
  const GemmCase g{Transpose::no, Transpose::no, 4, 5, 0, 1, 1, 0};
  std::vector<float> c(size_t(g.m * (g.n + g.pad)), NAN);
  gemm_bf16(Transpose::no, Transpose::no, g.m, g.n, 0, 1.0f, nullptr, 1, nullptr, g.n, 0.0f,
            c.data(), g.n + 1);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) EXPECT_EQ(c[size_t(i * (g.n + 1) + j)], 0.0f);
}

}  // namespace
}  // namespace moet
