// Causal attention (kernels/attention.cpp) against the textbook definition. Checked as
// kernel_check.h says: forward against a scalar reference, backward against finite differences in
// double, and the buffer convention of each backward.
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
#include "kernels/attention.h"

namespace moet {
namespace {

using namespace testing;

struct AttentionShape {
  int64_t B, T, H, d;
  double scale;
};
// T = 1 (a single visible key), odd head dims, one head, d = 1, and both usual logit scales;
// the last three span many query strips (kAttentionStrip = 12), with and without a partial last
// strip, and heads wide enough for several vector registers.
const AttentionShape kAttentionShapes[] = {
    {1, 1, 1, 4, 0.25},    {2, 1, 3, 2, 0.5},   {2, 5, 3, 4, 1 / std::sqrt(4.0)},
    {1, 7, 2, 3, 1.0 / 3}, {3, 4, 1, 5, 0.7},   {2, 6, 4, 1, 1.3},
    {1, 48, 2, 3, 0.4},    {2, 65, 1, 17, 0.5}, {1, 150, 2, 40, 0.6},
};

struct AttentionRun {
  Vec out, probs;
};

// The textbook definition, one (sequence, head, query) at a time.
AttentionRun attention_reference(const Vec& q, const Vec& k, const Vec& v,
                                 const AttentionShape& s) {
  const int64_t N = s.H * s.d;
  AttentionRun r{Vec(q.size(), 0), Vec(size_t(s.B * s.H * s.T * s.T), 0)};
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.T; ++t) {
        const auto at = [&](const Vec& m, int64_t pos, int64_t c) {
          return m[(b * s.T + pos) * N + h * s.d + c];
        };
        Vec logit(size_t(t + 1));
        for (int64_t j = 0; j <= t; ++j) {
          double qk = 0;
          for (int64_t c = 0; c < s.d; ++c) qk += at(q, t, c) * at(k, j, c);
          logit[j] = s.scale * qk;
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double z = 0;
        for (const double l : logit) z += std::exp(l - mx);
        double* prow = r.probs.data() + ((b * s.H + h) * s.T + t) * s.T;
        for (int64_t j = 0; j <= t; ++j) prow[j] = std::exp(logit[j] - mx) / z;
        for (int64_t c = 0; c < s.d; ++c) {
          double o = 0;
          for (int64_t j = 0; j <= t; ++j) o += prow[j] * at(v, j, c);
          r.out[(b * s.T + t) * N + h * s.d + c] = o;
        }
      }
  return r;
}

template <typename T>
AttentionRun attention_run(const Vec& q, const Vec& k, const Vec& v, const AttentionShape& s) {
  auto qt = as<T>(q), kt = as<T>(k), vt = as<T>(v);
  // out NaN-filled: the kernel must write every output. probs zero-filled, as the model keeps it:
  // the kernel leaves masked entries past each strip's corner alone, and must leave them zero.
  std::vector<T> out(q.size(), T(kNaN)), probs(size_t(s.B * s.H * s.T * s.T), T(0));
  attention_forward<T>(out.data(), probs.data(), qt.data(), kt.data(), vt.data(), s.B, s.T, s.H,
                       s.d, s.scale);
  return {widen(out), widen(probs)};
}

struct AttentionInputs {
  Vec q, k, v, g;
};
AttentionInputs attention_inputs(const AttentionShape& s, uint64_t seed) {
  const size_t n = size_t(s.B * s.T * s.H * s.d);
  // q larger than k so the softmax is far from uniform.
  return {random_vector(n, seed, 2.0), random_vector(n, seed + 1), random_vector(n, seed + 2),
          random_vector(n, seed + 3)};
}

std::string attention_name(const AttentionShape& s) {
  return "B,T,H,d=" + shape_name({s.B, s.T, s.H, s.d});
}

TEST(Attention, ForwardMatchesReference) {
  for (const AttentionShape& s : kAttentionShapes) {
    const AttentionInputs in = attention_inputs(s, 31);
    const AttentionRun want = attention_reference(in.q, in.k, in.v, s);
    const AttentionRun d = attention_run<double>(in.q, in.k, in.v, s);
    expect_all_near(d.out, want.out, kDoubleTol, "double out " + attention_name(s));
    expect_all_near(d.probs, want.probs, kDoubleTol, "double probs " + attention_name(s));

    const Vec qf = float_rounded(in.q), kf = float_rounded(in.k), vf = float_rounded(in.v);
    const AttentionRun wantf = attention_reference(qf, kf, vf, s);
    const AttentionRun f = attention_run<float>(qf, kf, vf, s);
    expect_all_near(f.out, wantf.out, kFloatTol, "float out " + attention_name(s));
    expect_all_near(f.probs, wantf.probs, kFloatTol, "float probs " + attention_name(s));
  }
}

TEST(Attention, BackwardWritesFiniteDifferenceGradient) {
  for (const AttentionShape& s : kAttentionShapes) {
    const std::string name = attention_name(s);
    AttentionInputs in = attention_inputs(s, 41);
    const AttentionRun fwd = attention_run<double>(in.q, in.k, in.v, s);
    Vec dq = prefilled(in.q.size(), false, 0), dk = dq, dv = dq;
    attention_backward<double>(dq.data(), dk.data(), dv.data(), in.g.data(), in.q.data(),
                               in.k.data(), in.v.data(), fwd.probs.data(), s.B, s.T, s.H, s.d,
                               s.scale);
    const auto f = [&] { return attention_run<double>(in.q, in.k, in.v, s).out; };
    const size_t checks = fd_checks(size_t(s.B * s.T * s.T * s.H * s.d));
    check_vjp(f, in.g, in.q, dq, name + " dq", checks);
    check_vjp(f, in.g, in.k, dk, name + " dk", checks);
    check_vjp(f, in.g, in.v, dv, name + " dv", checks);

    const Vec qf = float_rounded(in.q), kf = float_rounded(in.k), vf = float_rounded(in.v),
              gf = float_rounded(in.g);
    const AttentionRun wf = attention_run<double>(qf, kf, vf, s);
    Vec want_dq(qf.size()), want_dk(qf.size()), want_dv(qf.size());
    attention_backward<double>(want_dq.data(), want_dk.data(), want_dv.data(), gf.data(), qf.data(),
                               kf.data(), vf.data(), wf.probs.data(), s.B, s.T, s.H, s.d, s.scale);
    const AttentionRun ff = attention_run<float>(qf, kf, vf, s);
    auto q32 = as<float>(qf), k32 = as<float>(kf), v32 = as<float>(vf), g32 = as<float>(gf),
         p32 = as<float>(ff.probs);
    std::vector<float> dq32(qf.size()), dk32(qf.size()), dv32(qf.size());
    attention_backward<float>(dq32.data(), dk32.data(), dv32.data(), g32.data(), q32.data(),
                              k32.data(), v32.data(), p32.data(), s.B, s.T, s.H, s.d, s.scale);
    expect_all_near(widen(dq32), want_dq, kFloatBackwardTol, name + " float dq");
    expect_all_near(widen(dk32), want_dk, kFloatBackwardTol, name + " float dk");
    expect_all_near(widen(dv32), want_dv, kFloatBackwardTol, name + " float dv");
  }
}

TEST(Attention, FirstPositionSeesOnlyItself) {
  // Causality at its sharpest: query 0 attends to key 0 alone, whatever q and k are, so its
  // output is exactly v at position 0.
  const AttentionShape s{2, 4, 2, 3, 0.9};
  const AttentionInputs in = attention_inputs(s, 51);
  const AttentionRun r = attention_run<double>(in.q, in.k, in.v, s);
  const int64_t N = s.H * s.d;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t c = 0; c < N; ++c)
      EXPECT_DOUBLE_EQ(r.out[(b * s.T) * N + c], in.v[(b * s.T) * N + c]);
}

}  // namespace
}  // namespace moet
