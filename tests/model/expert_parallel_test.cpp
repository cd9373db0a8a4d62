// Expert parallelism: the model's placement of experts (single process), and the expert-parallel
// model under the real mpirun against the same model in one piece (tests/model/ep_ranks/, one
// thread per rank): forward and backward to double rounding and by finite differences, fp32
// within a stated tolerance through five SGD steps, and E not dividing M as one line and a
// non-zero exit on every rank.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../support/error_of.h"
#include "../support/model_fixtures.h"
#include "../support/mpirun.h"
#include "dist/world.h"
#include "model/init.h"
#include "model/layout.h"
#include "model/model.h"

namespace moet {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

ModelConfig ep_config() {
  ModelConfig c = testing::small_config();
  c.M = 6;
  c.linear_bias = true;
  c.shared_experts = 1;
  return c;
}

TEST(ExpertShardLayout, HoldsItsExpertsUnderTheWholeModelsNames) {
  const ModelConfig c = ep_config();
  const ModelLayout whole = model_layout(c);
  const ModelLayout part = model_layout(c, {2, 3});
  ASSERT_EQ(part.tensors.size(), whole.tensors.size());
  int sliced = 0;
  for (size_t i = 0; i < whole.tensors.size(); ++i) {
    const TensorInfo &w = whole.tensors[i], &p = part.tensors[i];
    EXPECT_EQ(p.name, w.name);
    EXPECT_EQ(p.role, w.role);
    const bool routed = w.name.find(".moe.expert_") != std::string::npos;
    if (!routed) {
      EXPECT_EQ(p.shape, w.shape) << w.name;
      EXPECT_EQ(p.first_expert, 0) << w.name;
      EXPECT_EQ(p.all_experts, w.experts) << w.name;
      continue;
    }
    ++sliced;
    std::vector<int64_t> shape = w.shape;
    shape[0] = 2;
    EXPECT_EQ(p.shape, shape) << w.name;
    EXPECT_EQ(p.experts, 2) << w.name;
    EXPECT_EQ(p.first_expert, 4) << w.name;
    EXPECT_EQ(p.all_experts, 6) << w.name;
    EXPECT_EQ(p.numel * 3, w.numel) << w.name;
    EXPECT_EQ(p.fan_in, w.fan_in) << w.name;
  }
  EXPECT_EQ(sliced, 4 * int(c.L));  // up, down and their biases per MoE block
}

TEST(ExpertShardLayout, ExpertsThatDoNotDivideAreAnError) {
  const ModelConfig c = ep_config();
  EXPECT_EQ(error_of([&] {
              model_layout(c, {0, 4});
            }),
            "expert parallelism over 4 ranks needs model.M divisible by 4 (model.M = 6)");
}

// Each rank's init is the whole model's draws for its experts, tied or not.
TEST(ExpertShardLayout, InitGivesTheSliceOfTheWholeModelsValues) {
  const ModelConfig c = ep_config();
  ModelPlan plan = testing::random_plan(c, 4);
  const ModelLayout whole = model_layout(c);
  for (size_t i = 0; i < whole.tensors.size(); ++i)
    if (whole.tensors[i].name == "blocks.1.moe.expert_down")
      plan.tensors[i].tied_across_experts = true;
  std::vector<double> all(size_t(total_numel(whole.tensors)));
  init_parameters(whole.tensors, plan, 5, all.data());
  for (int64_t rank = 0; rank < 3; ++rank) {
    const ModelLayout part = model_layout(c, {rank, 3});
    std::vector<double> mine(size_t(total_numel(part.tensors)));
    init_parameters(part.tensors, plan, 5, mine.data());
    for (size_t i = 0; i < part.tensors.size(); ++i) {
      const TensorInfo &p = part.tensors[i], &w = whole.tensors[i];
      const int64_t from = w.offset + p.first_expert * (p.experts ? p.numel / p.experts : 0);
      for (int64_t j = 0; j < p.numel; ++j)
        ASSERT_EQ(mine[size_t(p.offset + j)], all[size_t(from + j)]) << p.name << "[" << j << "]";
    }
  }
}

// A model given a single-process world as both groups computes what a plain one does, bit for bit.
TEST(ExpertParallelModel, ASingleRankGroupChangesNoBit) {
  const ModelConfig c = ep_config();
  dist::SingleWorld world;
  const ModelPlan plan = testing::random_plan(c, 2);
  ModelConfig aux = c;
  aux.aux_weight = 0.2;
  aux.z_weight = 0.1;
  Model<float> plain(aux, plan, 2),
      grouped(aux, plan, 2, AttentionKernel::automatic, Recompute::none, {&world});
  plain.init(3);
  grouped.init(3);
  std::vector<int32_t> inputs, targets;
  testing::random_tokens(c, 2, 4, inputs, targets);
  const ForwardResult a = plain.forward_train(inputs.data(), targets.data(), 0.5f);
  const ForwardResult b = grouped.forward_train(inputs.data(), targets.data(), 0.5f);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.aux_loss, b.aux_loss);
  EXPECT_EQ(a.z_loss, b.z_loss);
  plain.backward();
  grouped.backward();
  EXPECT_EQ(plain.grads(), grouped.grads());
}

class ExpertParallelMpirun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_mpirun())
      GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
    dir_ = fs::temp_directory_path() /
           fmt::format("moet_ep_{}_{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  testing::ProcessResult ranks(int np, const std::string& scenario, double* seconds = nullptr) {
    return testing::mpirun({"-np", std::to_string(np), MODEL_EP_RANKS_BINARY, scenario},
                           dir_.string(), seconds);
  }
  void expect_passed(const testing::ProcessResult& r, int np, const std::string& scenario) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    for (int rank = 0; rank < np; ++rank)
      EXPECT_NE(r.out.find(fmt::format("rank {}: {} passed", rank, scenario)), std::string::npos)
          << r.out << r.err;
  }
  fs::path dir_;
};

TEST_F(ExpertParallelMpirun, DoubleForwardAndBackwardMatchOneProcessAndFiniteDifferences) {
  expect_passed(ranks(2, "double"), 2, "double");
}

TEST_F(ExpertParallelMpirun, FloatMatchesOneProcessThroughFiveSgdSteps) {
  expect_passed(ranks(2, "float"), 2, "float");
  expect_passed(ranks(4, "float"), 4, "float");
}

TEST_F(ExpertParallelMpirun, ExpertsNotDividedByTheRanksStopEveryRankWithOneLine) {
  double seconds = 0;
  const auto r = ranks(3, "indivisible", &seconds);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_LT(seconds, 10);
  std::vector<std::string> lines;
  std::istringstream in(r.err);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("model_ep_ranks:")) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0],
            "model_ep_ranks: rank 0: expert parallelism over 3 ranks needs model.M divisible by 3 "
            "(model.M = 4)");
}

}  // namespace
}  // namespace moet
