// The bf16 flash kernel (kernels/flash_attention_bf16.h) and its tile products
// (kernels/bf16_tile_gemm.h): the products against a double loop over the same bf16 values, on
// AMX when present and on the scalar fallback (forced, as on a CPU without AMX); the kernel's
// outputs and gradients against the double strip kernel on the same fp32 inputs, within bf16
// rounding, on both paths, and the two paths against each other. The bf16 kernel has no finite
// difference check of its own: it is the fp32 kernel's function with rounded operands, and the
// double kernels' checks (flash_attention_test.cpp) are untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../support/fd.h"
#include "../support/relative_error.h"
#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/bf16_tile_gemm.h"
#include "kernels/flash_attention_bf16.h"

namespace moet {
namespace {

using testing::random_vector;
using Vec = std::vector<double>;

// bf16 keeps 8 significant bits (relative rounding 2^-9 = 2e-3 per operand); with fp32
// accumulation the outputs and gradients land within 1e-2 of their reference's largest entry
// (measured worst over the shapes below, on the fallback: output 3.9e-3, gradients 4.6e-3).
constexpr double kBf16Tol = 1e-2;
// The AMX and the scalar products round the same operands; only the fp32 accumulation order
// differs (measured 1e-7 relative).
constexpr double kProductPathTol = 1e-5;
// Through the kernel that order can move a probability across a bf16 rounding boundary, one bf16
// step (2^-9) in one entry of P or dS (measured worst 8.3e-5 relative, T = 300, d_head 64).
constexpr double kKernelPathTol = 5e-4;

// Runs the enclosing scope with the scalar fallback forced (a CPU without AMX).
struct ForcedFallback {
  ForcedFallback() { force_bf16_tile_fallback(true); }
  ~ForcedFallback() { force_bf16_tile_fallback(false); }
};

using testing::relative_error;

// C = A B on AMX-shaped operands with padding, against a double loop over the rounded values.
void check_tile_gemm(int64_t m, int64_t n, int64_t k, Accumulate accumulate) {
  const int64_t mp = round_up(m, kBf16TileRows), np = round_up(n, kBf16TileRows),
                kp = round_up(k, kBf16TileK);
  const auto a32 = random_vector(size_t(m * k), 5), b32 = random_vector(size_t(k * n), 6);
  const std::vector<float> af(a32.begin(), a32.end()), bf(b32.begin(), b32.end());
  std::vector<uint16_t> a(size_t(mp * kp)), b(size_t(kp * np));
  pack_bf16_rows(a.data(), mp, kp, af.data(), k, m, k);
  pack_bf16_pairs(b.data(), kp, np, bf.data(), n, k, n);
  const float start = accumulate == Accumulate::yes ? 0.5f : NAN;
  std::vector<float> c(size_t(mp * np), start);
  {
    Bf16TileSession tiles;
    bf16_tile_gemm(mp, np, kp, a.data(), kp, b.data(), 2 * np, accumulate, c.data(), np);
  }
  Vec want(size_t(m * n)), got(size_t(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = accumulate == Accumulate::yes ? 0.5 : 0;
      for (int64_t p = 0; p < k; ++p)
        sum += double(bf16_to_float(float_to_bf16(af[size_t(i * k + p)]))) *
               bf16_to_float(float_to_bf16(bf[size_t(p * n + j)]));
      want[size_t(i * n + j)] = sum;
      got[size_t(i * n + j)] = c[size_t(i * np + j)];
    }
  EXPECT_LE(relative_error(got, want), kProductPathTol) << m << "x" << n << "x" << k;
}

TEST(Bf16TileGemm, MatchesADoubleLoopOnTheRoundedValues) {
  for (const bool forced : {false, true}) {
    force_bf16_tile_fallback(forced);
    for (const Accumulate acc : {Accumulate::no, Accumulate::yes}) {
      check_tile_gemm(16, 16, 32, acc);
      check_tile_gemm(64, 64, 64, acc);
      check_tile_gemm(5, 37, 70, acc);    // padding on every side
      check_tile_gemm(48, 80, 100, acc);  // odd tile counts: 1 x 2, 2 x 1 and 1 x 1 blocks
      check_tile_gemm(20, 16, 33, acc);   // an odd k: the last pair of B's rows is half padding
    }
  }
  force_bf16_tile_fallback(false);
}

TEST(Bf16TileGemm, ForcingTheFallbackTurnsAmxOff) {
  ForcedFallback forced;
  EXPECT_FALSE(bf16_tiles_on_amx());
  EXPECT_FALSE(bf16_attention_available());
}

struct Shape {
  int64_t B, T, H, d;
  double scale;
};
// T = 1, T inside one block, across two and five blocks (the running max is rescaled), d_head
// 5 (padded to a whole tile), 16, 32 and 64.
const Shape kShapes[] = {
    {1, 1, 1, 8, 0.125},   {2, 5, 3, 8, 0.35},     {2, 49, 1, 5, 0.5},
    {2, 130, 2, 16, 0.25}, {1, 300, 1, 64, 0.125}, {1, 256, 2, 32, 1.0 / 32},
};

std::string name(const Shape& s) {
  return "B,T,H,d=" + std::to_string(s.B) + "x" + std::to_string(s.T) + "x" + std::to_string(s.H) +
         "x" + std::to_string(s.d);
}

struct Result {
  Vec out, dq, dk, dv;
};

// fp32 inputs (q larger than k so the softmax is far from uniform), their double strip result,
// and the bf16 kernel's, every output NaN-filled first.
struct Case {
  std::vector<float> q, k, v, g;
  explicit Case(const Shape& s) {
    const size_t n = size_t(s.B * s.T * s.H * s.d);
    const auto to_float = [](const Vec& x) { return std::vector<float>(x.begin(), x.end()); };
    q = to_float(random_vector(n, 11, 2.0));
    k = to_float(random_vector(n, 12));
    v = to_float(random_vector(n, 13));
    g = to_float(random_vector(n, 14));
  }
};

Result strips_double(const Case& in, const Shape& s) {
  const Vec q(in.q.begin(), in.q.end()), k(in.k.begin(), in.k.end()), v(in.v.begin(), in.v.end()),
      g(in.g.begin(), in.g.end());
  Result r{Vec(q.size()), Vec(q.size()), Vec(q.size()), Vec(q.size())};
  Vec probs(size_t(s.B * s.H * s.T * s.T), 0);
  attention_forward<double>(r.out.data(), probs.data(), q.data(), k.data(), v.data(), s.B, s.T, s.H,
                            s.d, s.scale);
  attention_backward<double>(r.dq.data(), r.dk.data(), r.dv.data(), g.data(), q.data(), k.data(),
                             v.data(), probs.data(), s.B, s.T, s.H, s.d, s.scale);
  return r;
}

Result flash_bf16(const Case& in, const Shape& s) {
  const size_t n = in.q.size();
  std::vector<float> out(n, NAN), lse(size_t(s.B * s.H * s.T), NAN), dq(n, NAN), dk(n, NAN),
      dv(n, NAN);
  flash_attention_forward_bf16(out.data(), lse.data(), in.q.data(), in.k.data(), in.v.data(), s.B,
                               s.T, s.H, s.d, s.scale, 2);
  flash_attention_backward_bf16(dq.data(), dk.data(), dv.data(), in.g.data(), out.data(),
                                lse.data(), in.q.data(), in.k.data(), in.v.data(), s.B, s.T, s.H,
                                s.d, s.scale, 2);
  const auto wide = [](const std::vector<float>& x) { return Vec(x.begin(), x.end()); };
  return {wide(out), wide(dq), wide(dk), wide(dv)};
}

// Relative to the largest entry of each reference; at T = 1 dq and dk are exactly zero (one key:
// the softmax is constant), so there the gradients are judged against 1 instead.
void expect_close(const Result& got, const Result& want, double tol, const Shape& s,
                  const std::string& what) {
  const double floor = s.T == 1 ? 1.0 : 1e-300;
  EXPECT_LE(relative_error(got.out, want.out), tol) << "out " << what;
  EXPECT_LE(relative_error(got.dq, want.dq, floor), tol) << "dq " << what;
  EXPECT_LE(relative_error(got.dk, want.dk, floor), tol) << "dk " << what;
  EXPECT_LE(relative_error(got.dv, want.dv, floor), tol) << "dv " << what;
}

TEST(FlashAttentionBf16, MatchesTheDoubleStripKernelWithinBf16Rounding) {
  for (const Shape& s : kShapes) {
    const Case in(s);
    const Result want = strips_double(in, s);
    const Result got = flash_bf16(in, s);
    expect_close(got, want, kBf16Tol, s, name(s));
    // The products did run in bf16, forward and backward: fp32 operands would be within 1e-4
    // (flash_attention_test).
    if (s.T > 1) {
      EXPECT_GT(relative_error(got.out, want.out), 1e-4) << "out " << name(s);
      EXPECT_GT(relative_error(got.dq, want.dq), 1e-4) << "dq " << name(s);
      EXPECT_GT(relative_error(got.dk, want.dk), 1e-4) << "dk " << name(s);
      EXPECT_GT(relative_error(got.dv, want.dv), 1e-4) << "dv " << name(s);
    }
  }
}

TEST(FlashAttentionBf16, TheFallbackMatchesTheDoubleStripKernel) {
  for (const Shape& s : kShapes) {
    const Case in(s);
    ForcedFallback forced;
    expect_close(flash_bf16(in, s), strips_double(in, s), kBf16Tol, s, name(s));
  }
}

TEST(FlashAttentionBf16, TheFallbackGivesTheSameResultsAsAmx) {
  // Without AMX both runs take the fallback: the comparison would hold by construction.
  if (!bf16_tiles_on_amx()) GTEST_SKIP() << "no AMX tiles on this CPU: one path only";
  for (const Shape& s : kShapes) {
    const Case in(s);
    const Result amx = flash_bf16(in, s);
    ForcedFallback forced;
    expect_close(flash_bf16(in, s), amx, kKernelPathTol, s, name(s) + " against AMX");
  }
}

}  // namespace
}  // namespace moet
