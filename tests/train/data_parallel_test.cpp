// `moet train` under the real mpirun (Debian's Open MPI), data parallel at D = 2, one thread per
// rank, on the fixture's tiny MoE with the auxiliary and z losses, the balancing bias and
// clipping all on, so every global quantity (loss, routing loads, aux f and P, gradient norm) is
// exercised.
//
// Tolerance. Two ranks do not add in the order one process does: each rank sums its own rows
// (the loss, the router statistics, every weight gradient's GEMM reduction over rows), then the
// ranks' partial results are added (the reduce-scatter and the allreduces). The results agree to
// fp32 rounding, not bit for bit, and Adam (a step of m / sqrt(v)) carries a rounding difference
// in a small gradient into the parameters. We require every parameter and moment tensor within
// 1e-5 of its largest magnitude and every logged loss, aux/z loss, gradient norm and validation
// loss within 1e-6 relative, after 20 steps (measured: 8e-7 and 2e-8). The same rank count
// twice, and a resume at the same rank count, must give identical bits.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "../support/mpirun.h"
#include "../support/worst.h"
#include "train/safetensors.h"
#include "train_fixture.h"

namespace moet {
namespace {

using testing::worse;

namespace fs = std::filesystem;

class DataParallelTest : public testing::TrainFixture {
 protected:
  void SetUp() override {
    if (!testing::have_mpirun())
      GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
    TrainFixture::SetUp();
  }
  std::vector<std::string> tiny_sets() const override {
    auto sets = TrainFixture::tiny_sets();
    sets.insert(sets.end(), {"balance.aux_weight=0.01", "balance.z_weight=0.001", "optim.clip=0.5",
                             "train.ckpt_every=10", "train.threads=1"});
    return sets;
  }
  // mpirun -q with one app context per entry of `contexts` (MPMD: "a : b"), each its own argv.
  testing::ProcessResult mpirun(const std::vector<std::vector<std::string>>& contexts) {
    std::vector<std::string> args = {"-q"};
    for (size_t i = 0; i < contexts.size(); ++i) {
      if (i) args.push_back(":");
      args.insert(args.end(), contexts[i].begin(), contexts[i].end());
    }
    return testing::mpirun(args, path(""));
  }
  std::vector<std::string> train_args(const std::string& run, std::vector<std::string> extra = {},
                                      const std::string& binary = MOET_BINARY) {
    std::vector<std::string> args = {binary, "train", "--quiet", "--out", path(run)};
    for (const auto& a : cli_set_args(std::move(extra))) args.push_back(a);
    return args;
  }
  testing::ProcessResult train_ranks(int np, const std::string& run,
                                     std::vector<std::string> extra = {}) {
    std::vector<std::string> context = {"-np", std::to_string(np)};
    for (const auto& a : train_args(run, std::move(extra))) context.push_back(a);
    return mpirun({context});
  }
  testing::ProcessResult resume_ranks(int np, const std::string& run,
                                      std::vector<std::string> sets = {}) {
    std::vector<std::string> context = {"-np",     std::to_string(np), MOET_BINARY, "train",
                                        "--quiet", "--resume",         path(run)};
    for (const auto& set : sets) context.insert(context.end(), {"--set", set});
    return mpirun({context});
  }
  // Without a launcher: the plain single-process path.
  testing::CommandResult train_alone(const std::string& run) {
    auto args = train_args(run);
    args.erase(args.begin());
    return testing::run_moet_argv(args, {"OMP_NUM_THREADS=1"}, path(""));
  }
  std::string file(const std::string& name) const { return read_file(path(name)); }
  std::string final_checkpoint(const std::string& run) const { return run + "/ckpt-000000020/"; }
  // run trained what `expected` did: logged losses within 1e-6 relative, every tensor of the
  // final weights and moments within tensor_rel of the tensor's largest magnitude.
  void expect_run_close(const std::string& expected, const std::string& run,
                        double tensor_rel = 1e-5) const;
  // The final weights and moments of the two runs, byte for byte.
  void expect_same_checkpoint(const std::string& expected, const std::string& run) const;
};

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) out.push_back(line);
  return out;
}

// metrics.jsonl's losses, step by step (tokens_per_s is a clock reading, not compared).
std::vector<std::pair<std::string, double>> logged_losses(const std::string& metrics) {
  std::vector<std::pair<std::string, double>> out;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"loss", "aux_loss", "z_loss", "grad_norm", "val_loss"})
      if (j.contains(key))
        out.emplace_back(fmt::format("step {} {}", j.at("step").get<int>(), key),
                         j.at(key).get<double>());
  }
  return out;
}

void expect_losses_close(const std::string& a, const std::string& b, double rel) {
  const auto x = logged_losses(a), y = logged_losses(b);
  ASSERT_EQ(x.size(), y.size());
  ASSERT_GT(x.size(), 40u);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].first, y[i].first);
    EXPECT_NEAR(x[i].second, y[i].second, rel * std::abs(x[i].second)) << x[i].first;
  }
}

// Every tensor of two safetensors files within rel of the tensor's largest magnitude.
void expect_tensors_close(const std::string& a_path, const std::string& b_path, double rel) {
  const Safetensors a = read_safetensors(a_path), b = read_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t t = 0; t < a.tensors.size(); ++t) {
    const auto &x = a.tensors[t].data, &y = b.tensors[t].data;
    ASSERT_EQ(x.size(), y.size()) << a.tensors[t].name;
    double scale = 0, worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      scale = std::max(scale, double(std::abs(x[i])));
      worst = worse(worst, std::abs(double(x[i]) - double(y[i])));
    }
    EXPECT_LE(worst, rel * scale) << a.tensors[t].name << " in " << b_path;
  }
}

void DataParallelTest::expect_run_close(const std::string& expected, const std::string& run,
                                        double tensor_rel) const {
  expect_losses_close(file(expected + "/metrics.jsonl"), file(run + "/metrics.jsonl"), 1e-6);
  for (const char* name : {"model.safetensors", "optimizer.safetensors"})
    expect_tensors_close(path(final_checkpoint(expected) + name),
                         path(final_checkpoint(run) + name), tensor_rel);
}

void DataParallelTest::expect_same_checkpoint(const std::string& expected,
                                              const std::string& run) const {
  for (const char* name : {"model.safetensors", "optimizer.safetensors"})
    EXPECT_EQ(file(final_checkpoint(expected) + name), file(final_checkpoint(run) + name)) << name;
}

TEST_F(DataParallelTest, TwoRanksTrainTheSingleProcessRunAndTwiceTheSameBits) {
  ASSERT_EQ(train_alone("one").exit_code, 0);
  const auto two = train_ranks(2, "two");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  // Rank 0 alone prints the result line and writes the run directory.
  EXPECT_EQ(lines_starting(two.out, "{\"status\":\"done\"").size(), 1u) << two.out;
  expect_run_close("one", "two", 1e-4);

  ASSERT_EQ(train_ranks(2, "again").exit_code, 0);
  expect_same_checkpoint("two", "again");
  EXPECT_EQ(logged_losses(file("two/metrics.jsonl")), logged_losses(file("again/metrics.jsonl")));
}

// A checkpoint written at R = 2 (step 10 of 20) resumes at R = 2 to the uninterrupted run's bits
// and at R = 1 to the same run within the tolerance.
TEST_F(DataParallelTest, ACheckpointOfTwoRanksResumesAtTwoExactlyAndAtOne) {
  ASSERT_EQ(train_ranks(2, "whole").exit_code, 0);
  std::vector<std::string> stop_at_10 = {"-np", "2", "--"};
  for (const auto& a : train_args("at2")) stop_at_10.push_back(a);
  stop_at_10.insert(stop_at_10.end(), {"--stop-after", "10"});
  const auto first = mpirun({stop_at_10});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(fs::exists(path("at2/ckpt-000000010")));
  fs::copy(path("at2"), path("at1"), fs::copy_options::recursive);

  const auto at2 = resume_ranks(2, "at2");
  ASSERT_EQ(at2.exit_code, 0) << at2.err;
  expect_same_checkpoint("whole", "at2");

  const auto at1 = testing::run_moet_argv({"train", "--quiet", "--resume", path("at1")},
                                          {"OMP_NUM_THREADS=1"}, path(""));
  ASSERT_EQ(at1.exit_code, 0) << at1.err;
  expect_run_close("whole", "at1");
}

// Expert parallelism (docs/distributed.md §3.1) at E = 2 (2 ranks) and D x E = 2 x 2 (4 ranks)
// trains the single-process run within the data-parallel tolerance: its sums differ from one
// process's in the same way (each rank sums its own rows; the routed experts' weight gradients
// sum the rows that reached them grouped by source rank, then over the D replicas), and the same
// layout twice gives the same bits.
TEST_F(DataParallelTest, ExpertParallelRanksTrainTheSingleProcessRunAndTwiceTheSameBits) {
  ASSERT_EQ(train_alone("one").exit_code, 0);
  for (const auto& [np, run] : {std::pair{2, "e2"}, std::pair{4, "d2e2"}}) {
    const auto r = train_ranks(np, run, {"train.expert_parallel=2"});
    ASSERT_EQ(r.exit_code, 0) << run << ": " << r.err;
    EXPECT_EQ(lines_starting(r.out, "{\"status\":\"done\"").size(), 1u) << r.out;
    expect_run_close("one", run, 1e-4);
  }
  ASSERT_EQ(train_ranks(4, "again", {"train.expert_parallel=2"}).exit_code, 0);
  for (const char* name : {"model.safetensors", "optimizer.safetensors"})
    EXPECT_EQ(file(final_checkpoint("d2e2") + name), file(final_checkpoint("again") + name))
        << name;
  EXPECT_EQ(logged_losses(file("d2e2/metrics.jsonl")), logged_losses(file("again/metrics.jsonl")));
}

// A checkpoint of E = 2 (whole tensors, one file) resumes at E = 2 to the uninterrupted run's
// bits, and in one process (E = 1) to the same run within the tolerance.
TEST_F(DataParallelTest, ACheckpointOfExpertParallelRanksResumesExactlyAndInOneProcess) {
  ASSERT_EQ(train_ranks(2, "whole", {"train.expert_parallel=2"}).exit_code, 0);
  std::vector<std::string> stop_at_10 = {"-np", "2", "--"};
  for (const auto& a : train_args("at2", {"train.expert_parallel=2"})) stop_at_10.push_back(a);
  stop_at_10.insert(stop_at_10.end(), {"--stop-after", "10"});
  const auto first = mpirun({stop_at_10});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(fs::exists(path("at2/ckpt-000000010")));
  fs::copy(path("at2"), path("at1"), fs::copy_options::recursive);
  fs::copy(path("at2"), path("d2"), fs::copy_options::recursive);

  const auto at2 = resume_ranks(2, "at2");
  ASSERT_EQ(at2.exit_code, 0) << at2.err;
  expect_same_checkpoint("whole", "at2");
  // The same two ranks data parallel only (D = 2, E = 1): the same run within the tolerance.
  const auto d2 = resume_ranks(2, "d2", {"train.expert_parallel=1"});
  ASSERT_EQ(d2.exit_code, 0) << d2.err;
  expect_run_close("whole", "d2");

  const auto at1 = testing::run_moet_argv(
      {"train", "--quiet", "--resume", path("at1"), "--set", "train.expert_parallel=1"},
      {"OMP_NUM_THREADS=1"}, path(""));
  ASSERT_EQ(at1.exit_code, 0) << at1.err;
  expect_run_close("whole", "at1");
}

// model.M = 4 over 3 expert-parallel ranks: every rank stops with one line, nothing written.
// Recomputation redoes an MoE block's forward in the backward pass, all-to-alls and routing
// allreduce included; under expert parallelism every rank must do so in step. Same tensors, bit
// for bit, as keeping everything (the checkpoint files differ in the stored config only).
TEST_F(DataParallelTest, ExpertParallelRanksRecomputeToTheSameBits) {
  const auto kept = train_ranks(2, "kept", {"train.expert_parallel=2"});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  const auto again =
      train_ranks(2, "recomputed", {"train.expert_parallel=2", "train.recompute=block"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const char* name : {"model.safetensors", "optimizer.safetensors"})
    expect_tensors_close(path(final_checkpoint("kept") + name),
                         path(final_checkpoint("recomputed") + name), 0.0);
  EXPECT_EQ(logged_losses(file("kept/metrics.jsonl")),
            logged_losses(file("recomputed/metrics.jsonl")));
}

TEST_F(DataParallelTest, ExpertRanksThatDoNotDivideTheExpertsAreOneLine) {
  const auto r = train_ranks(3, "odd", {"train.expert_parallel=3", "train.batch=3"});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = lines_starting(r.err, "moet train:");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0],
            "moet train: rank 0: train.expert_parallel = 3 does not divide model.M = 4: each of "
            "the E ranks holds M/E experts of every MoE layer");
  EXPECT_FALSE(fs::exists(path("odd")));

  // E = 2 in one process (no launcher): the rank count is 1.
  auto args = train_args("alone", {"train.expert_parallel=2"});
  args.erase(args.begin());
  const auto alone = testing::run_moet_argv(args, {"OMP_NUM_THREADS=1"}, path(""));
  EXPECT_EQ(alone.exit_code, 2) << alone.err;
  EXPECT_EQ(alone.err,
            "moet train: train.expert_parallel = 2 does not divide the number of ranks (1): run "
            "on a multiple of 2 ranks (R = D x E)\n");
  EXPECT_FALSE(fs::exists(path("alone")));
}

// Every error below ends every rank within the timeout, non-zero, with one line of moet's.
TEST_F(DataParallelTest, ABatchTheRanksDoNotDivideIsOneLineAndWritesNothing) {
  const auto r = train_ranks(2, "odd", {"train.batch=3"});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = lines_starting(r.err, "moet train:");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0],
            "moet train: rank 0: train.batch = 3 does not split over 2 data-parallel ranks: it "
            "must be a positive multiple of the rank count");
  EXPECT_FALSE(fs::exists(path("odd")));
}

TEST_F(DataParallelTest, RanksWithDifferentConfigsOrBinariesStopWithOneLine) {
  std::vector<std::string> a = {"-np", "1"}, b = {"-np", "1"};
  for (const auto& x : train_args("run")) a.push_back(x);
  for (const auto& x : train_args("run", {"train.seed=2"})) b.push_back(x);
  const auto config = mpirun({a, b});
  EXPECT_FALSE(config.timed_out);
  EXPECT_EQ(config.exit_code, 2) << config.err;
  auto lines = lines_starting(config.err, "moet train:");
  ASSERT_EQ(lines.size(), 1u) << config.err;
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("moet train: the config differs between "
                                                    "ranks: rank 0 has [0-9a-f]{16}; rank 1 has "
                                                    "[0-9a-f]{16}")))
      << lines[0];

  // A copy of moet with one trailing byte more (an ELF file ignores it).
  const std::string other = path("moet_copy");
  fs::copy_file(MOET_BINARY, other);
  std::ofstream(other, std::ios::app | std::ios::binary) << '\0';
  std::vector<std::string> c = {"-np", "1"};
  for (const auto& x : train_args("run", {}, other)) c.push_back(x);
  const auto binary = mpirun({a, c});
  EXPECT_FALSE(binary.timed_out);
  EXPECT_EQ(binary.exit_code, 2) << binary.err;
  lines = lines_starting(binary.err, "moet train:");
  ASSERT_EQ(lines.size(), 1u) << binary.err;
  EXPECT_TRUE(lines[0].starts_with(
      "moet train: the moet executable (/proc/self/exe) differs between ranks: rank 0 has "))
      << lines[0];
  EXPECT_FALSE(fs::exists(path("run")));
}

// Rank 1 runs in a directory without the data (relative paths): its error stops both ranks at
// start-up, with its line.
TEST_F(DataParallelTest, ARankThatCannotReadItsDataStopsEveryRankWithItsLine) {
  fs::create_directories(path("a"));
  fs::create_directories(path("b"));
  fs::copy_file(path("train.bin"), path("a/train.bin"));
  fs::copy_file(path("val.bin"), path("a/val.bin"));
  const auto context = [&](const std::string& wdir) {
    std::vector<std::string> c = {"-np",   "1",       "-wdir", path(wdir), MOET_BINARY,
                                  "train", "--quiet", "--out", path("run")};
    for (const auto& x : cli_set_args({"data.train=train.bin", "data.val=val.bin"})) c.push_back(x);
    return c;
  };
  const auto r = mpirun({context("a"), context("b")});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = lines_starting(r.err, "moet train:");
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_TRUE(lines[0].starts_with("moet train: rank 1: ")) << lines[0];
  EXPECT_NE(lines[0].find("train.bin"), std::string::npos) << lines[0];
  EXPECT_FALSE(fs::exists(path("run")));
}

// Rank 1 is killed (SIGKILL) at its fourth step while rank 0 waits for it in a collective.
TEST_F(DataParallelTest, ARankThatDiesEndsTheRun) {
  std::vector<std::string> a = {"-np", "1"},
                           b = {"-np", "1", "/usr/bin/env", "MOET_FAULT=train.step:4"};
  for (const auto& x : train_args("run")) a.push_back(x), b.push_back(x);
  const auto r = mpirun({a, b});
  EXPECT_FALSE(r.timed_out) << "rank 0 waited forever for the rank that died";
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("killed at train.step"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("run/ckpt-000000010"))) << "nothing is written after the death";
}

}  // namespace
}  // namespace moet
