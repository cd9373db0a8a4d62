// Softmax cross-entropy (kernels/xent.cpp). Checked as kernel_check.h says: forward against a
// scalar reference, backward against finite differences in double, and the buffer convention of
// each backward.
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
#include "kernels/xent.h"

namespace moet {
namespace {

using namespace testing;

struct XentShape {
  int64_t rows, V;
};
const XentShape kXentShapes[] = {{3, 7}, {1, 1}, {5, 50}, {100, 200}};  // last: OpenMP path

struct XentRun {
  Vec losses, probs;
};

// Stable by the usual max shift, which is exact in real arithmetic.
XentRun xent_reference(const Vec& logits, const std::vector<int32_t>& targets, int64_t V) {
  const int64_t rows = int64_t(targets.size());
  XentRun r{Vec(size_t(rows)), Vec(logits.size())};
  for (int64_t i = 0; i < rows; ++i) {
    const double* x = logits.data() + i * V;
    const double mx = *std::max_element(x, x + V);
    double z = 0;
    for (int64_t j = 0; j < V; ++j) z += std::exp(x[j] - mx);
    const double lse = mx + std::log(z);
    r.losses[i] = lse - x[targets[i]];
    for (int64_t j = 0; j < V; ++j) r.probs[i * V + j] = std::exp(x[j] - lse);
  }
  return r;
}

template <typename T>
XentRun xent_run(const Vec& logits, const std::vector<int32_t>& targets, int64_t V) {
  auto buf = as<T>(logits);
  std::vector<T> losses(targets.size(), T(kNaN));
  softmax_xent_forward<T>(losses.data(), buf.data(), targets.data(), int64_t(targets.size()), V);
  return {widen(losses), widen(buf)};
}

TEST(Xent, ForwardMatchesReferenceAndIsShiftInvariant) {
  for (const XentShape& s : kXentShapes) {
    const std::string name = shape_name({s.rows, s.V});
    const Vec logits = random_vector(size_t(s.rows * s.V), 101, 3.0);
    const std::vector<int32_t> targets = random_tokens(s.rows, s.V, 102);
    const XentRun want = xent_reference(logits, targets, s.V);
    const XentRun d = xent_run<double>(logits, targets, s.V);
    expect_all_near(d.losses, want.losses, kDoubleTol, "double losses " + name);
    expect_all_near(d.probs, want.probs, kDoubleTol, "double probs " + name);
    const Vec lf = float_rounded(logits);
    const XentRun wantf = xent_reference(lf, targets, s.V);
    const XentRun f = xent_run<float>(lf, targets, s.V);
    expect_all_near(f.losses, wantf.losses, kFloatTol, "float losses " + name);
    expect_all_near(f.probs, wantf.probs, kFloatTol, "float probs " + name);

    // Logits around 1000 would overflow a naive exp; the result must not change.
    const XentRun big = xent_run<double>(shifted(logits, 1000), targets, s.V);
    expect_all_near(big.losses, want.losses, 1e-10, "shifted losses " + name);
    expect_all_near(big.probs, want.probs, 1e-10, "shifted probs " + name);
    const Vec big_f = float_rounded(shifted(logits, 1000));
    const XentRun bigf = xent_run<float>(big_f, targets, s.V);
    expect_all_near(bigf.losses, xent_reference(big_f, targets, s.V).losses, kFloatTol,
                    "float shifted losses " + name);
  }
}

TEST(Xent, BackwardWritesFiniteDifferenceGradientAndMayAliasProbs) {
  const double scale = 0.37;  // the backward's one weight for every row (the model's 1/R)
  for (const XentShape& s : kXentShapes) {
    const std::string name = "xent " + shape_name({s.rows, s.V});
    Vec logits = random_vector(size_t(s.rows * s.V), 111, 3.0);
    const std::vector<int32_t> targets = random_tokens(s.rows, s.V, 112);
    const XentRun fwd = xent_run<double>(logits, targets, s.V);
    Vec dlogits = prefilled(logits.size(), false, 0);
    softmax_xent_backward<double>(dlogits.data(), fwd.probs.data(), targets.data(), s.rows, s.V,
                                  scale);
    // L = scale * sum of the row losses, i.e. <g, losses> with g = scale everywhere.
    const Vec g(size_t(s.rows), scale);
    check_vjp([&] { return xent_run<double>(logits, targets, s.V).losses; }, g, logits, dlogits,
              name, fd_checks(logits.size()));

    Vec in_place = fwd.probs;  // the model turns its probabilities into gradients in place
    softmax_xent_backward<double>(in_place.data(), in_place.data(), targets.data(), s.rows, s.V,
                                  scale);
    EXPECT_EQ(in_place, dlogits) << name << " in place";

    auto p32 = as<float>(fwd.probs);
    std::vector<float> d32(logits.size(), 0);
    softmax_xent_backward<float>(d32.data(), p32.data(), targets.data(), s.rows, s.V, float(scale));
    Vec want(logits.size());
    softmax_xent_backward<double>(want.data(), float_rounded(fwd.probs).data(), targets.data(),
                                  s.rows, s.V, scale);
    expect_all_near(widen(d32), want, kFloatTol, name + " float");
  }
}

}  // namespace
}  // namespace moet
