// Optimizers against their textbook update rules written out in double, per-tensor settings,
// schedules, and the balancing-bias rule.
#include <gtest/gtest.h>

#include <cmath>

#include "model/layout.h"
#include "optim/balance.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace moet {
namespace {

// Two tensors with different settings plus a non-trainable one.
std::vector<TensorInfo> three_tensors() {
  std::vector<TensorInfo> t(3);
  t[0].name = "a", t[0].numel = 5, t[0].offset = 0;
  t[1].name = "b", t[1].numel = 3, t[1].offset = 5;
  t[2].name = "route_bias", t[2].numel = 2, t[2].offset = 8, t[2].trainable = false;
  return t;
}

struct Reference {
  std::vector<double> w, m, v;
};

void run_case(const std::string& name, double momentum) {
  OptimConfig c;
  c.kind = optimizer_kind_from("optim.name", name);
  c.beta1 = 0.9, c.beta2 = 0.95, c.momentum = momentum;
  const auto tensors = three_tensors();
  const std::vector<param::TensorHyper> hyper = {
      {0.01, 1e-8, 0.1}, {0.003, 1e-3, 0.0}, {5.0, 5.0, 5.0}};
  Optimizer opt(c, tensors, hyper);
  std::vector<float> w = {0.5f, -1.f, 2.f, 0.1f, -0.3f, 1.f, 0.2f, -0.7f, 0.25f, -0.25f};
  Reference ref{std::vector<double>(w.begin(), w.end()), std::vector<double>(10, 0.0),
                std::vector<double>(10, 0.0)};
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> g(10);
    for (int i = 0; i < 10; ++i) g[i] = float(std::sin(1.3 * i + step));
    const double factor = 0.5 * step, scale = 0.8;
    opt.step(w.data(), g.data(), factor, scale);
    for (int i = 0; i < 8; ++i) {
      const param::TensorHyper& h = hyper[i < 5 ? 0 : 1];
      const double lr = h.lr * factor;
      double gi = scale * g[i];
      if (name == "adamw") {
        ref.w[i] *= 1 - lr * h.wd;
      } else {
        gi += h.wd * ref.w[i];
      }
      if (name == "sgd") {
        ref.m[i] = momentum * ref.m[i] + gi;
        ref.w[i] -= lr * (momentum > 0 ? ref.m[i] : gi);
      } else {
        ref.m[i] = 0.9 * ref.m[i] + 0.1 * gi;
        ref.v[i] = 0.95 * ref.v[i] + 0.05 * gi * gi;
        const double mhat = ref.m[i] / (1 - std::pow(0.9, step));
        const double vhat = ref.v[i] / (1 - std::pow(0.95, step));
        ref.w[i] -= lr * mhat / (std::sqrt(vhat) + h.eps);
      }
    }
    for (int i = 0; i < 10; ++i)
      EXPECT_NEAR(w[i], ref.w[i], 1e-6) << name << " step " << step << " i " << i;
  }
  // The balancing bias never moves with the optimizer.
  EXPECT_EQ(w[8], 0.25f);
  EXPECT_EQ(w[9], -0.25f);
}

TEST(Optimizer, AdamMatchesReference) { run_case("adam", 0); }
TEST(Optimizer, AdamWDecouplesWeightDecay) { run_case("adamw", 0); }
TEST(Optimizer, SgdMatchesReference) { run_case("sgd", 0); }
TEST(Optimizer, SgdMomentumMatchesReference) { run_case("sgd", 0.9); }

TEST(Optimizer, GradNormSkipsNonTrainable) {
  OptimConfig c;
  Optimizer opt(c, three_tensors(), std::vector<param::TensorHyper>(3));
  std::vector<float> g(10, 0.0f);
  g[0] = 3, g[7] = 4, g[9] = 100;  // g[9] belongs to the balancing bias
  EXPECT_NEAR(opt.grad_norm(g.data()), 5.0, 1e-12);
}

TEST(Schedule, WarmupThenConstant) {
  OptimConfig c;
  c.warmup = 0.5;
  EXPECT_EQ(warmup_steps(c, 100), 50);
  EXPECT_NEAR(lr_factor(c, 0, 100), 1.0 / 50, 1e-12);
  EXPECT_NEAR(lr_factor(c, 49, 100), 1.0, 1e-12);
  EXPECT_NEAR(lr_factor(c, 99, 100), 1.0, 1e-12);
  c.warmup = 10;  // >= 1 means steps
  EXPECT_EQ(warmup_steps(c, 100), 10);
}

TEST(Schedule, CosineEndsAtFloor) {
  OptimConfig c;
  c.schedule = Schedule::cosine, c.warmup = 10, c.lr_floor = 0.1;
  EXPECT_NEAR(lr_factor(c, 10, 110), 1.0, 1e-12);
  EXPECT_NEAR(lr_factor(c, 60, 110), 0.55, 1e-12);  // halfway: floor + (1 - floor) / 2
  EXPECT_NEAR(lr_factor(c, 110, 110), 0.1, 1e-12);
  for (int s = 11; s < 110; ++s) EXPECT_LE(lr_factor(c, s, 110), lr_factor(c, s - 1, 110));
}

TEST(Schedule, WsdHoldsThenDecaysLinearly) {
  OptimConfig c;
  c.schedule = Schedule::wsd, c.warmup = 10, c.lr_floor = 0.0, c.decay = 0.2;
  EXPECT_NEAR(lr_factor(c, 50, 100), 1.0, 1e-12);
  EXPECT_NEAR(lr_factor(c, 79, 100), 1.0, 1e-12);
  EXPECT_NEAR(lr_factor(c, 89, 100), 0.5, 1e-12);
  EXPECT_NEAR(lr_factor(c, 99, 100), 0.0, 1e-12);
}

TEST(Balance, BiasMovesAgainstLoad) {
  std::vector<float> b = {0, 0, 0, 0};
  // 100 tokens, K = 2, M = 4: balanced load is 0.5 per expert.
  update_route_bias(b.data(), {80, 50, 40, 30}, 100, 2, 0.1);
  EXPECT_NEAR(b[0], -0.1 * 0.3, 1e-7);  // overloaded: pushed down
  EXPECT_NEAR(b[1], 0.0, 1e-7);
  EXPECT_NEAR(b[2], 0.1 * 0.1, 1e-7);  // underloaded: pulled up
  EXPECT_NEAR(b[3], 0.1 * 0.2, 1e-7);
  update_route_bias(b.data(), {100, 100, 0, 0}, 100, 2, 0.0);  // eta 0: off
  EXPECT_NEAR(b[0], -0.03, 1e-7);
}

}  // namespace
}  // namespace moet
