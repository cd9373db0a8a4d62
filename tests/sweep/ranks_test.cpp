// Sweep trials of several ranks (`ranks = R` in a spec): each trial trains data parallel under
// mpirun -np R and records what the same trial of one process records, within the
// data-parallel tolerance (tests/train/data_parallel_test.cpp: losses 1e-6 relative); a trial
// whose ranks fail is a failed trial and the sweep goes on; a spec whose R cannot split a
// trial's batch, or needs more cores than there are, is one line before anything runs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "../support/mpirun.h"
#include "../support/run_binary.h"
#include "core/error.h"
#include "same_results.h"
#include "sweep/resources.h"
#include "sweep/results_store.h"
#include "sweep/spec.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

class RanksTest : public testing::SweepFixture {
 protected:
  // Two LRs at the base width: two trials of a few steps each.
  std::string spec_text(const std::string& top, const std::string& config_extra = "",
                        const std::string& presets = "") const {
    return top + testing::ladder_spec(tiny_config(config_extra), "[-8, -7]", "[1]") + presets;
  }
  testing::CommandResult sweep(const std::string& spec, const std::string& db,
                               const std::string& extra = "") const {
    // The trials' ranks inherit the sweep's environment (tests/support/mpirun.h says why).
    return testing::run_command(std::string("env ") + testing::kRanksWithoutLeakCheck + " " +
                                    MOET_BINARY + " sweep " + shell_quote({spec}) + " --db " +
                                    shell_quote({db}) + " " + extra,
                                dir_.string());
  }
};

bool has_mpirun() { return std::filesystem::exists("/usr/bin/mpirun"); }

TEST_F(RanksTest, TwoRankTrialsRecordWhatOneRankTrialsDoWithinTheDataParallelTolerance) {
  if (!has_mpirun()) GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
  const std::string two = write_spec("two.toml", spec_text("ranks = 2\n"));
  const std::string one = write_spec("one.toml", spec_text(""));
  const auto r = sweep(two, path("two/sweep.sqlite"), "--threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("x 2 ranks under mpirun x 1 thread"), std::string::npos) << r.out;
  const auto local = sweep(one, path("one/sweep.sqlite"), "--threads 1");
  ASSERT_EQ(local.exit_code, 0) << local.out << local.err;
  // Same keys, statuses, steps, tokens; losses and curves within the data-parallel tolerance.
  testing::expect_same_results(path("two/sweep.sqlite"), path("one/sweep.sqlite"), 1e-6);
  const auto trials = ResultsStore::open_read_only(path("two/sweep.sqlite")).current_trials();
  ASSERT_EQ(trials.size(), 2u);
  for (const TrialRecord& t : trials) {
    // One world of two ranks: rank 0 alone prints its result line (two worlds of one rank, each
    // training the whole batch, would print two).
    const std::string log = testing::slurp(t.run_dir + "/train.log");
    EXPECT_EQ(testing::count_lines(log), 1) << log;
    EXPECT_EQ(log.rfind("{\"status\":\"done\"", 0), 0u) << log;
    EXPECT_TRUE(file_exists(t.run_dir + "/status.json"));
  }
}

TEST_F(RanksTest, ATrialWhoseRanksFailIsAFailedTrialAndTheSweepGoesOn) {
  if (!has_mpirun()) GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
  // The second preset's validation data does not exist: its ranks stop while reading it.
  const std::string spec = write_spec(
      "spec.toml", spec_text("ranks = 2\n", "",
                             "[[preset]]\nname = \"sp\"\n[preset.config]\ndata.val = \"" +
                                 path("missing.bin") + "\"\n"));
  const auto r = sweep(spec, path("sweep.sqlite"), "--threads 1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  int done = 0, failed = 0;
  for (const TrialRecord& t : ResultsStore::open_read_only(path("sweep.sqlite")).current_trials()) {
    SCOPED_TRACE(t.key);
    if (t.preset == "sp") {
      ++failed;
      EXPECT_EQ(t.status, RunStatus::failed);
      EXPECT_NE(t.error.find("missing.bin"), std::string::npos) << t.error;
      EXPECT_NE(t.error.find("moet train: rank "), std::string::npos) << t.error;
    } else {
      done += t.status == RunStatus::done;
    }
  }
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(done, 2);
}

TEST_F(RanksTest, RanksThatCannotSplitTheBatchOrFitTheMachineAreOneLineBeforeAnythingRuns) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int too_many = int(cores) * 2;
  const struct {
    std::string top, config, expected;
  } cases[] = {
      {"ranks = 3\n", "",
       "ladder 'width', preset 'completep-moe', scale 1: ranks = 3: train.batch = 4 does not "
       "split over 3 data-parallel ranks"},
      {fmt::format("ranks = {}\n", too_many),
       fmt::format("train.batch = {}\n", too_many * 2),  // splits: only the cores are short
       fmt::format("ranks = {}: a trial needs a core per rank, more than the", too_many)},
      {"ranks = 0\n", "", "ranks: expected a whole number of ranks per trial"},
      {"ranks = \"2\"\n", "", "ranks: expected a whole number of ranks per trial"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.top);
    std::string text = spec_text(c.top, c.config);
    if (!c.config.empty()) {  // the case's batch replaces the fixture's
      const size_t at = text.find("train.batch = 4\n");
      text.erase(at, std::string("train.batch = 4\n").size());
    }
    const std::string spec = write_spec("spec.toml", text);
    for (const std::string mode : {"", "--dry-run"}) {
      const auto r = sweep(spec, path("db/sweep.sqlite"), mode);
      EXPECT_EQ(r.exit_code, 2) << mode << r.out << r.err;
      EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
      EXPECT_NE(r.err.find(c.expected), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(spec), std::string::npos) << "names the spec: " << r.err;
      EXPECT_FALSE(std::filesystem::exists(path("db/sweep.runs"))) << "no trial ran";
    }
  }
}

// A sweep shared out by mpirun or srun cannot start trials of several ranks: their mpirun would
// take the sweep's launcher for its own. One line, no trial run.
TEST_F(RanksTest, ASweepSharedOutByALauncherRefusesTrialsOfSeveralRanks) {
  const std::string spec = write_spec("spec.toml", spec_text("ranks = 2\n"));
  const auto r = testing::run_command(
      fmt::format("env OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2 {} sweep {} --db {}",
                  MOET_BINARY, spec, path("sweep.sqlite")),
      dir_.string());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("ranks = 2: a sweep shared out by a launcher "
                       "(OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("sweep.runs"))) << "no trial ran";
}

// `--trial N` (what an array task runs) starts a trial of several ranks under mpirun by default;
// --launch says otherwise, and only with --trial.
TEST_F(RanksTest, OneTrialOfTwoRanksRunsAloneAndLaunchIsChecked) {
  if (!has_mpirun()) GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
  const std::string spec = write_spec("spec.toml", spec_text("ranks = 2\n"));
  const std::string db = path("sweep.sqlite");
  const auto one = sweep(spec, db, "--threads 1 --trial 1");
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  const auto trials = ResultsStore::open_read_only(db).current_trials();
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0].status, RunStatus::pending);
  EXPECT_EQ(trials[1].status, RunStatus::done) << trials[1].error;
  EXPECT_EQ(testing::count_lines(testing::slurp(trials[1].run_dir + "/train.log")), 1);
  for (const auto& [args, expected] :
       {std::pair<std::string, std::string>{"--trial 0 --launch pmi", "--launch \"pmi\""},
        {"--launch srun", "--launch: only with --trial"}}) {
    const auto r = sweep(spec, db, args);
    EXPECT_EQ(r.exit_code, 2) << args << r.out << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
  }
}

TEST(WorkerPlanRanks, EveryTrialTakesRanksTimesThreadsCores) {
  WorkerPlan p = plan_workers(8, 100, 0, 0, 0, 2);
  EXPECT_EQ(p.workers, 4);
  EXPECT_EQ(p.threads, 1) << "one thread per rank";
  EXPECT_EQ(p.ranks, 2);
  p = plan_workers(8, 1, 0, 0, 0, 2);
  EXPECT_EQ(p.workers, 1);
  EXPECT_EQ(p.threads, 4) << "one trial left: spare cores become threads of its ranks";
  p = plan_workers(8, 100, 0, 2, 0, 2);
  EXPECT_EQ(p.workers, 2);
  p = plan_workers(8, 100, 2, 0, 0, 2);
  EXPECT_EQ(p.threads, 2);
  EXPECT_THROW(plan_workers(8, 10, 3, 2, 0, 2), Error) << "3 x 2 ranks x 2 threads > 8";
  EXPECT_THROW(plan_workers(8, 10, 5, 0, 0, 2), Error) << "5 workers x 2 ranks > 8";
  EXPECT_THROW(plan_workers(8, 10, 0, 5, 0, 2), Error) << "2 ranks x 5 threads > 8";
  EXPECT_THROW(plan_workers(2, 10, 0, 0, 0, 3), Error);
}

}  // namespace
}  // namespace moet::sweep
