// The training run: exact resume, crash safety of checkpoints, divergence, and the one-line
// errors of bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "../support/run_binary.h"
#include "core/error.h"
#include "core/files.h"
#include "core/rng.h"
#include "data/shard.h"
#include "param/resolve.h"
#include "param/table.h"
#include "train/checkpoint.h"
#include "train/run_files.h"
#include "train/schema.h"
#include "train/settings_text.h"
#include "train/trainer.h"
#include "train_fixture.h"

extern char** environ;

namespace moet {
namespace {

namespace fs = std::filesystem;

using TrainerTest = testing::TrainFixture;
using testing::deterministic_metrics;

TEST_F(TrainerTest, ResumeIsBitIdenticalToAnUninterruptedRun) {
  const std::string whole = path("whole"), split = path("split");
  TrainOptions options;
  options.quiet = true;
  options.out_dir = whole;
  const TrainResult a = train(tiny_config(), options);
  ASSERT_EQ(a.status, RunStatus::done);

  // The same 20-step run, cut after 10 steps and continued in a second call.
  options.out_dir = split;
  options.stop_after = 10;
  ASSERT_EQ(train(tiny_config(), options).status, RunStatus::stopped);
  options.resume = true;
  options.stop_after = 0;
  const TrainResult b = train(resume_config(split, {}), options);
  ASSERT_EQ(b.status, RunStatus::done);

  const std::vector<TensorInfo> tensors = model_tensors(model_config_from(tiny_config()));
  const Checkpoint ca = load_checkpoint(whole, tensors), cb = load_checkpoint(split, tensors);
  EXPECT_EQ(ca.step, 20);
  EXPECT_EQ(cb.step, 20);
  ASSERT_EQ(ca.params.size(), cb.params.size());
  EXPECT_EQ(0, std::memcmp(ca.params.data(), cb.params.data(), ca.params.size() * sizeof(float)));
  EXPECT_EQ(ca.first_moment, cb.first_moment);
  EXPECT_EQ(ca.second_moment, cb.second_moment);
  EXPECT_EQ(deterministic_metrics(whole), deterministic_metrics(split));
  EXPECT_EQ(a.val_loss, b.val_loss);
}

// train.recompute changes what the model keeps, not what it computes: a run that recomputes
// whole blocks, stopped and resumed recomputing only attention, ends with the bits of a run that
// recomputes nothing.
TEST_F(TrainerTest, RecomputationChangesNoBitAndMayChangeOnResume) {
  const std::string kept = path("kept"), recomputed = path("recomputed");
  TrainOptions options;
  options.quiet = true;
  options.out_dir = kept;
  ASSERT_EQ(train(tiny_config(), options).status, RunStatus::done);
  options.out_dir = recomputed;
  options.stop_after = 10;
  ASSERT_EQ(train(tiny_config({"train.recompute=block"}), options).status, RunStatus::stopped);
  options.resume = true;
  options.stop_after = 0;
  ASSERT_EQ(train(resume_config(recomputed, {"train.recompute=attention"}), options).status,
            RunStatus::done);

  const std::vector<TensorInfo> tensors = model_tensors(model_config_from(tiny_config()));
  const Checkpoint a = load_checkpoint(kept, tensors), b = load_checkpoint(recomputed, tensors);
  ASSERT_EQ(b.step, 20);
  ASSERT_EQ(a.params.size(), b.params.size());
  EXPECT_EQ(0, std::memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)));
  EXPECT_EQ(a.first_moment, b.first_moment);
  EXPECT_EQ(a.second_moment, b.second_moment);
  EXPECT_EQ(deterministic_metrics(kept), deterministic_metrics(recomputed));
}

TEST_F(TrainerTest, CheckpointKeepsItsParameterizationInAFreshProcess) {
  // A non-default preset and base shape, so a silent fallback to defaults would show.
  const std::string run = path("run");
  const auto trained = testing::run_moet(
      "train --quiet --out " + run +
          cli_sets({"train.steps=3", "param.preset=mup", "param.base.N=16", "param.base.Ne=8",
                    "optim.schedule=cosine", "optim.clip=0.5"}),
      path(""));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto stored = testing::run_moet("params --json --run " + run, path(""));
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  const nlohmann::json at_train_time =
      nlohmann::json::parse(read_file(run + "/parameterization.json"));
  EXPECT_EQ(nlohmann::json::parse(stored.out), at_train_time);
  EXPECT_EQ(at_train_time.at("preset"), "mup");
  // The human table too, against one resolved from the same config in this process.
  const auto table = testing::run_moet("params --run " + run, path(""));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const Config config = Config::load(full_config_schema(), run + "/config.toml", {});
  EXPECT_EQ(table.out,
            format_table(param::resolve_parameterization(config)) + format_settings(config));
}

TEST_F(TrainerTest, ResumeRejectsChangesOutsideTrainKeys) {
  TrainOptions options;
  options.quiet = true;
  options.out_dir = path("run");
  ASSERT_EQ(train(tiny_config({"train.steps=2"}), options).status, RunStatus::done);
  try {
    resume_config(path("run"), {"model.N=64"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.N"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, NewRunRefusesToOverwriteAnOldOne) {
  TrainOptions options;
  options.quiet = true;
  options.out_dir = path("run");
  ASSERT_EQ(train(tiny_config({"train.steps=2"}), options).status, RunStatus::done);
  EXPECT_THROW(train(tiny_config({"train.steps=2"}), options), Error);
}

TEST_F(TrainerTest, KilledDuringCheckpointWritesLeavesAUsableCheckpoint) {
  // A bigger model checkpointing every step, so a SIGKILL often lands mid-write.
  const std::string run = path("killed");
  const std::string sets =
      cli_sets({"model.N=128", "model.d_head=32", "model.Ne=128", "train.steps=100000",
                "train.ckpt_every=1", "train.eval_every=0"});
  const std::vector<TensorInfo> tensors = model_tensors(
      model_config_from(tiny_config({"model.N=128", "model.d_head=32", "model.Ne=128"})));
  int64_t last_step = -1;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<std::string> args = {MOET_BINARY, "train", "--quiet"};
    if (attempt == 0) {
      args.insert(args.end(), {"--out", run});
      std::istringstream words(sets);
      for (std::string w; words >> w;) args.push_back(w);
    } else {
      args.insert(args.end(), {"--resume", run});
    }
    const pid_t pid = testing::spawn_quietly(MOET_BINARY, args);
    ASSERT_GT(pid, 0);
    // Wait for the run to pass its first checkpoint, then kill it at an arbitrary later moment;
    // with a checkpoint every step, that moment is usually in the middle of writing one.
    const int64_t seen = last_step;
    for (int i = 0; i < 600; ++i) {
      try {  // the live run may rotate checkpoints under this read; only the final read counts
        if (has_checkpoint(run) && load_checkpoint_metadata(run).step > seen) break;
      } catch (const Error&) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(37 * (attempt + 1)));
    ASSERT_EQ(0, ::kill(pid, SIGKILL));
    int status = 0;
    ASSERT_EQ(pid, ::waitpid(pid, &status, 0));  // reaped: nothing writes while we read
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended before it was killed";
    ASSERT_TRUE(has_checkpoint(run)) << "attempt " << attempt;
    const Checkpoint c = load_checkpoint(run, tensors);  // throws if torn
    EXPECT_GT(c.step, last_step) << "attempt " << attempt;
    last_step = c.step;
  }
  EXPECT_GT(last_step, 0);
}

TEST_F(TrainerTest, DivergedRunIsRecordedWithItsOwnExitCode) {
  const std::string run = path("diverged");
  const auto r = testing::run_moet(
      "train --quiet --out " + run + cli_sets({"optim.lr=1000", "train.steps=200"}), path(""));
  EXPECT_EQ(r.exit_code, kExitDiverged) << r.err;
  const nlohmann::json status = read_status(run);
  EXPECT_EQ(status.at("status"), "diverged");
  EXPECT_LT(status.at("steps").get<int64_t>(), 200);
}

TEST_F(TrainerTest, BadInputGetsOneLineAndExitCode2) {
  const std::string scratch = path("");
  write_file_atomic(path("bad_type.toml"), "[model]\nN = \"wide\"\n");
  write_file_atomic(path("unknown.toml"), "[model]\nwidth = 3\n");
  std::string truncated = read_file(path("train.bin"));
  truncated.resize(truncated.size() - 7);
  write_file_atomic(path("truncated.bin"), truncated);
  struct Case {
    std::string args, must_name;
  };
  const std::vector<Case> cases = {
      {"train --out " + path("r1") + " --config " + path("missing.toml"), "missing.toml"},
      {"train --out " + path("r2") + " --config " + path("bad_type.toml"), "model.N"},
      {"train --out " + path("r3") + " --config " + path("unknown.toml"), "model.width"},
      {"train --out " + path("r4") + cli_sets({"model.K=9"}), "model.K"},
      {"train --out " + path("r5") + cli_sets({"model.N=30"}), "model.N"},
      {"train --out " + path("r6") + cli_sets({"model.M=0"}), "model.M"},
      {"train --out " + path("r7") + cli_sets({"data.train=" + path("truncated.bin")}),
       "truncated.bin"},
      {"train --out " + path("r8") + cli_sets({"model.vocab=10"}), "model.vocab"},
      {"train --resume " + path("nowhere"), "nowhere"},
      {"train --out " + path("r9") + " --set train.steps=abc", "train.steps"},
      {"train --bogus", "bogus"},
  };
  for (const Case& c : cases) {
    const auto r = testing::run_moet(c.args, scratch);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.must_name), std::string::npos) << c.args << "\n" << r.err;
  }
}

}  // namespace
}  // namespace moet
