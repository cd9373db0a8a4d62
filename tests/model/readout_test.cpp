// The readout forms its logits a chunk of rows at a time (model/readout_rows.h) and, in a
// training pass, their gradient and the readout's backward beside them: over several chunks
// (and a ragged last one) the losses and gradients are those of one chunk, for the tied and the
// untied readout, across gradient accumulation with an evaluation pass between; an evaluation
// pass does no gradient work.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../support/model_fixtures.h"
#include "../support/worst.h"
#include "model/model.h"

namespace moet {
namespace {

using testing::worse;

struct Observed {
  std::vector<double> losses;
  std::vector<double> grads;
};

template <typename T>
Observed run(const ModelConfig& c, int64_t readout_rows) {
  constexpr int64_t kBatch = 3;  // 15 rows: chunks of 4 leave a ragged last one
  Model<T> model(c, testing::random_plan(c, 3), kBatch);
  model.set_readout_rows(readout_rows);
  model.init(7);
  Observed out;
  const auto pass = [&](uint64_t seed, bool train, T loss_scale) {
    std::vector<int32_t> inputs, targets;
    testing::random_tokens(c, kBatch, seed, inputs, targets);
    const ForwardResult r = train ? model.forward_train(inputs.data(), targets.data(), loss_scale)
                                  : model.forward(inputs.data(), targets.data());
    out.losses.push_back(r.loss);
  };
  model.zero_grad();
  pass(1, true, T(0.3));
  model.backward();
  const std::vector<T> accumulated = model.grads();
  pass(2, false, T(1));  // an evaluation pass between micro-batches: no gradient work
  EXPECT_TRUE(model.grads() == accumulated) << "an evaluation pass changed the gradients";
  pass(3, true, T(1));
  model.backward();
  out.grads.assign(model.grads().begin(), model.grads().end());
  return out;
}

// Largest difference relative to the largest magnitude of a.
double worst_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(a[i]));
    worst = worse(worst, std::fabs(a[i] - b[i]));
  }
  return worst / scale;
}

template <typename T>
void expect_chunks_match_one(double tolerance) {
  for (const bool tied : {true, false}) {
    ModelConfig c = testing::small_config();
    c.tied_embed = tied;
    const Observed whole = run<T>(c, 15), chunked = run<T>(c, 4);
    ASSERT_EQ(whole.losses.size(), chunked.losses.size());
    for (size_t i = 0; i < whole.losses.size(); ++i)
      EXPECT_NEAR(chunked.losses[i], whole.losses[i], tolerance * whole.losses[i]) << tied;
    EXPECT_LE(worst_relative(whole.grads, chunked.grads), tolerance) << "tied " << tied;
    // Not a comparison of zeros.
    EXPECT_GT(*std::max_element(whole.grads.begin(), whole.grads.end()), 0.0);
  }
}

TEST(Readout, ChunksGiveTheLossesAndGradientsOfOneChunkInDouble) {
  expect_chunks_match_one<double>(1e-13);
}

TEST(Readout, ChunksGiveTheLossesAndGradientsOfOneChunkInFloat) {
  expect_chunks_match_one<float>(1e-6);
}

}  // namespace
}  // namespace moet
