// Resuming a run after a stop or a crash: the final result is the uninterrupted run's, a finished
// run is left alone, a refused resume changes no file, a run killed before its first checkpoint
// can be started again either way, and what a killed process left behind is cleared.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "../support/run_binary.h"
#include "core/files.h"
#include "train/checkpoint.h"
#include "train/run_files.h"
#include "train/train_config.h"
#include "train/trainer.h"
#include "train_fixture.h"

namespace moet {
namespace {

namespace fs = std::filesystem;
using testing::deterministic_metrics;

// One thread: these tests start many short runs, and idle OpenMP threads spin on a busy machine.
class ResumeTest : public testing::TrainFixture {
 protected:
  std::vector<std::string> tiny_sets() const override {
    auto sets = TrainFixture::tiny_sets();
    sets.push_back("train.threads=1");
    return sets;
  }
};

// status.json without the wall-clock throughput.
nlohmann::json deterministic_status(const std::string& run) {
  nlohmann::json status = read_status(run);
  status.erase("tokens_per_s");
  return status;
}

// Every file under a directory: its bytes and modification time.
std::map<std::string, std::pair<std::string, int64_t>> snapshot(const std::string& dir) {
  std::map<std::string, std::pair<std::string, int64_t>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    struct stat info {};
    ::stat(entry.path().c_str(), &info);
    files[entry.path().string()] = {
        read_file(entry.path().string()),
        int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
  }
  return files;
}

TrainResult run_in_process(const Config& config, const std::string& dir, bool resume,
                           int64_t stop_after = 0) {
  TrainOptions options;
  options.quiet = true;
  options.out_dir = dir;
  options.resume = resume;
  options.stop_after = stop_after;
  return train(config, options);
}

TEST_F(ResumeTest, AStopInsideTheLastLogIntervalKeepsTheFinalTrainLoss) {
  // Lines at steps 7, 14 and 20; the stop at 18 falls inside the last interval.
  const Config config = tiny_config({"train.log_every=7", "train.eval_every=0"});
  const TrainResult whole = run_in_process(config, path("whole"), false);
  ASSERT_EQ(run_in_process(config, path("split"), false, 18).status, RunStatus::stopped);
  const TrainResult split = run_in_process(resume_config(path("split"), {}), path("split"), true);
  ASSERT_EQ(split.status, RunStatus::done);
  EXPECT_EQ(whole.train_loss, split.train_loss);
  EXPECT_EQ(deterministic_status(path("whole")), deterministic_status(path("split")));
  EXPECT_EQ(deterministic_metrics(path("whole")), deterministic_metrics(path("split")));
}

TEST_F(ResumeTest, ARunThatDivergesAfterAResumeReportsWhatTheUninterruptedOneDoes) {
  // At this LR the run diverges; stopped one step before, it resumes after its last validation
  // and inside the log interval that ends with the divergence.
  const Config config =
      tiny_config({"optim.lr=1", "train.steps=40", "train.log_every=7", "train.eval_every=5"});
  const TrainResult whole = run_in_process(config, path("whole"), false);
  ASSERT_EQ(whole.status, RunStatus::diverged);
  ASSERT_GT(whole.steps, 12);
  ASSERT_NE(whole.steps % 7, 1) << "the stop must fall inside a log interval";
  ASSERT_EQ(run_in_process(config, path("split"), false, whole.steps - 1).status,
            RunStatus::stopped);
  const TrainResult split = run_in_process(resume_config(path("split"), {}), path("split"), true);
  EXPECT_EQ(split.status, RunStatus::diverged);
  EXPECT_EQ(whole.val_loss, split.val_loss);
  EXPECT_EQ(whole.train_loss, split.train_loss);
  EXPECT_EQ(deterministic_status(path("whole")), deterministic_status(path("split")));
}

TEST_F(ResumeTest, AKillBetweenTheFinalCheckpointAndStatusIsFinishedWithoutRewritingIt) {
  const Config config = tiny_config({"train.log_every=7"});
  const std::string run = path("run");
  ASSERT_EQ(run_in_process(config, run, false).status, RunStatus::done);
  const std::string status = read_file(run + "/status.json");
  // What a kill just before the final status.json leaves: the status of a running run.
  write_status(run, RunStatus::running, {{"step", 0}});
  const std::string ckpt = run + "/ckpt-000000020";
  const auto checkpoint_files = snapshot(ckpt);
  struct stat before {};
  ASSERT_EQ(::stat((ckpt + "/model.safetensors").c_str(), &before), 0);

  ASSERT_EQ(run_in_process(resume_config(run, {}), run, true).status, RunStatus::done);
  EXPECT_EQ(read_file(run + "/status.json"), status) << "the uninterrupted run's, byte for byte";
  EXPECT_EQ(snapshot(ckpt), checkpoint_files) << "the final checkpoint is not rewritten";
  struct stat after {};
  ASSERT_EQ(::stat((ckpt + "/model.safetensors").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
}

TEST_F(ResumeTest, ResumingAFinishedRunChangesNoFileAndSaysSo) {
  for (const std::string lr : {"0.01", "1"}) {  // done, then diverged
    const std::string run = path("run" + lr);
    const auto first = testing::run_moet(
        "train --quiet --out " + run + cli_sets({"optim.lr=" + lr, "train.steps=40"}), path(""));
    ASSERT_EQ(first.exit_code, lr == "1" ? kExitDiverged : 0) << first.err;
    const auto files = snapshot(run);
    const auto again = testing::run_moet("train --quiet --resume " + run, path(""));
    EXPECT_EQ(again.exit_code, first.exit_code) << again.err;
    EXPECT_EQ(testing::count_lines(again.err), 1) << again.err;
    EXPECT_NE(again.err.find("already finished"), std::string::npos) << again.err;
    nlohmann::json stored = read_status(run);
    stored.erase("version");  // the file's schema, not part of the result
    EXPECT_EQ(nlohmann::json::parse(again.out), stored) << "the stored result";
    EXPECT_EQ(snapshot(run), files) << "lr " << lr;
  }
}

TEST_F(ResumeTest, ARefusedResumeChangesNoFile) {
  const std::string run = path("run");
  ASSERT_EQ(testing::run_moet("train --quiet --stop-after 6 --out " + run + cli_sets(), path(""))
                .exit_code,
            0);
  const auto files = snapshot(run);
  struct Case {
    std::string set, must_name;
  };
  for (const Case& c : std::vector<Case>{{"train.batch=2", "train.batch"},
                                         {"train.seed=3", "train.seed"},
                                         {"train.precision=bf16", "train.precision"},
                                         {"model.N=64", "model.N"},
                                         {"train.steps=6", "train.steps"},
                                         {"train.steps=4", "train.steps"}}) {
    const auto r = testing::run_moet("train --quiet --resume " + run + " --set " + c.set, path(""));
    EXPECT_EQ(r.exit_code, 2) << c.set << "\n" << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << c.set << "\n" << r.err;
    EXPECT_NE(r.err.find(c.must_name), std::string::npos) << c.set << "\n" << r.err;
    EXPECT_EQ(snapshot(run), files) << c.set;
  }
  // The help names the keys that may change, and those do.
  const auto help = testing::run_moet("train --help", path(""));
  for (const std::string& key : resumable_train_keys())
    EXPECT_NE(help.out.find(key), std::string::npos) << key << "\n" << help.out;
  const auto r = testing::run_moet("train --quiet --resume " + run +
                                       " --set train.steps=25 --set train.log_every=3 "
                                       "--set train.eval_every=4 --set train.threads=1",
                                   path(""));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_status(run).at("steps"), 25);
}

// The state a run killed at step 10, before its first checkpoint, leaves: its files, metrics up
// to step 10, status "running", and no checkpoint.
void kill_before_first_checkpoint(const std::string& run) {
  for (const auto& entry : fs::directory_iterator(run))
    if (entry.path().filename().string().rfind("ckpt-", 0) == 0) fs::remove_all(entry.path());
  fs::remove(run + "/latest");
  const auto lines = deterministic_metrics(run);
  std::string kept;
  for (const auto& line : lines)
    if (line.at("step").get<int64_t>() <= 10) kept += line.dump() + "\n";
  write_file_atomic(run + "/metrics.jsonl", kept);
  write_status(run, RunStatus::running, {{"step", 0}});
}

TEST_F(ResumeTest, ARunKilledBeforeItsFirstCheckpointStartsOverWithResumeOrOut) {
  const std::string whole = path("whole");
  ASSERT_EQ(testing::run_moet("train --quiet --out " + whole + cli_sets(), path("")).exit_code, 0);
  for (const std::string how : {"--resume", "--out"}) {
    const std::string run = path("killed" + how);
    ASSERT_EQ(testing::run_moet("train --quiet --out " + run + cli_sets(), path("")).exit_code, 0);
    kill_before_first_checkpoint(run);
    const auto r = testing::run_moet(
        "train --quiet " + how + " " + run + (how == "--out" ? cli_sets() : ""), path(""));
    ASSERT_EQ(r.exit_code, 0) << how << ": " << r.err;
    EXPECT_EQ(deterministic_metrics(run), deterministic_metrics(whole)) << how;
    EXPECT_EQ(deterministic_status(run), deterministic_status(whole)) << how;
  }
  // A run with a checkpoint is still not overwritten by --out.
  const auto r = testing::run_moet("train --quiet --out " + whole + cli_sets(), path(""));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
}

pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST_F(ResumeTest, TemporariesOfKilledProcessesAreRemovedOnTheNextOpen) {
  const std::string run = path("run");
  ASSERT_EQ(run_in_process(tiny_config(), run, false, 12).status, RunStatus::stopped);
  // The parent (the test runner) is alive; this process would replace its own temporary.
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(::getppid());
  write_file_atomic(run + "/metrics.jsonl.tmp." + dead, "torn");
  write_file_atomic(run + "/status.json.tmp." + dead, "torn");
  fs::create_directories(run + "/ckpt-000000015.tmp." + dead);
  write_file_atomic(run + "/ckpt-000000015.tmp." + dead + "/model.safetensors", "torn");
  fs::create_directories(run + "/ckpt-000000005");  // published, then superseded by ckpt 12
  write_file_atomic(run + "/config.toml.tmp." + live, "being written by a live process");

  ASSERT_EQ(run_in_process(resume_config(run, {}), run, true).status, RunStatus::done);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(run))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ckpt-000000020", "config.toml",
                                             "config.toml.tmp." + live, "latest", "metrics.jsonl",
                                             "parameterization.json", "status.json"}));
}

}  // namespace
}  // namespace moet
