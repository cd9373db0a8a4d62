// The script `moet sweep --emit-slurm` writes, handed to a real Slurm: a one-node cluster that
// the test starts takes it with its own sbatch and runs the array, which must fill the database
// exactly as a local sweep of the same spec does. The spec's name has spaces and punctuation, as
// every study's has, and the working directory, the spec and the database sit under paths with
// spaces, quotes and a '%j' that Slurm's file name patterns would expand. The same cluster runs
// a sweep as the tasks of an srun step.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/mpirun.h"
#include "../support/run_binary.h"
#include "core/files.h"
#include "same_results.h"
#include "single_node_slurm.h"
#include "sweep/results_store.h"
#include "sweep/spec.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using testing::SingleNodeSlurm;
using SlurmTest = testing::SweepFixture;

std::string quoted(const std::string& arg) { return shell_quote({arg}); }

TEST_F(SlurmTest, RealSbatchRunsTheEmittedArrayLikeALocalSweep) {
  const std::string missing = SingleNodeSlurm::missing_packages();
  if (!missing.empty())
    GTEST_SKIP() << "needs Debian's " << missing << " (./moet.sh test installs them)";
  const std::string work = path("work dir");
  std::filesystem::create_directories(work);
  const std::string spec = awkward_spec();
  const std::string db = path("db dir %j/sweep.sqlite");
  const auto emitted = testing::run_command(
      fmt::format("cd {} && {} sweep {} --db '../db dir %j/sweep.sqlite' --emit-slurm job.sh "
                  "--threads 1",
                  quoted(work), MOET_BINARY, quoted(spec)),
      dir_.string());
  ASSERT_EQ(emitted.exit_code, 0) << emitted.out << emitted.err;

  SingleNodeSlurm slurm(path("slurm"));
  ASSERT_TRUE(slurm.start(60)) << "the one-node Slurm did not come up\n" << slurm.logs();
  const auto submitted = slurm.client("sbatch --parsable " + quoted(work + "/job.sh"));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << testing::slurp(work + "/job.sh");
  const std::string job = submitted.out.substr(0, submitted.out.find_first_of(";\n"));
  ASSERT_TRUE(slurm.wait_until_gone(job, 180)) << "job " << job << " still queued\n"
                                               << slurm.logs();
  const auto shown = slurm.client("scontrol show job " + job);
  EXPECT_NE(shown.out.find("JobName=moet-paper-1-width-N-Ne-x8"), std::string::npos) << shown.out;
  slurm.stop();

  // Each task's log next to the database, under the directory's literal name.
  for (int task = 0; task < 4; ++task) {
    const std::string log = path(fmt::format("db dir %j/slurm-{}_{}.out", job, task));
    EXPECT_TRUE(file_exists(log)) << log;
  }
  testing::expect_same_as_local_sweep(spec, db, dir_.string());
}

// `srun` without --mpi=pmi2 sets no MPI or PMI variables, only Slurm's: the tasks of the step must
// still share the trials (not each run all of them into the same run directories).
TEST_F(SlurmTest, TasksOfARealSrunStepShareTheTrialsLikeMpiRanks) {
  const std::string missing = SingleNodeSlurm::missing_packages();
  if (!missing.empty())
    GTEST_SKIP() << "needs Debian's " << missing << " (./moet.sh test installs them)";
  const std::string spec = awkward_spec();
  const std::string db = path("db dir/sweep.sqlite");
  SingleNodeSlurm slurm(path("slurm"));
  ASSERT_TRUE(slurm.start(60)) << "the one-node Slurm did not come up\n" << slurm.logs();
  // --overcommit: two tasks even on a one-CPU machine.
  const auto r = slurm.client(
      fmt::format("srun --ntasks=2 --cpus-per-task=1 --overcommit {} sweep {} --db {} --threads 1",
                  MOET_BINARY, quoted(spec), quoted(db)));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << slurm.logs();
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_NE(r.out.find(fmt::format(
                  "running 2 (MPI rank {} of 2, from SLURM_PROCID/SLURM_STEP_NUM_TASKS)", rank)),
              std::string::npos)
        << r.out;
  slurm.stop();

  testing::expect_same_as_local_sweep(spec, db, dir_.string());
}

// A spec of ranks = 2 emits a multi-task array (--ntasks=2), whose tasks start each trial as
// `srun --mpi=pmix --kill-on-bad-exit=1` inside the job: the trials' two ranks form one MPI world
// through Slurm's PMIx plugin and record what one process records, within the data-parallel
// tolerance.
TEST_F(SlurmTest, RealSbatchRunsTwoRankTrialsThroughSrunPmix) {
  const std::string missing = SingleNodeSlurm::missing_packages();
  if (!missing.empty())
    GTEST_SKIP() << "needs Debian's " << missing << " (./moet.sh test installs them)";
  const std::string one =
      write_spec("one.toml", testing::ladder_spec(tiny_config(), "[-8, -7]", "[1]"));
  const std::string two = write_spec("two.toml", "ranks = 2\n" + testing::slurp(one));
  const std::string db = path("db/sweep.sqlite");
  const auto emitted = testing::run_moet(
      "sweep " + two + " --db " + db + " --emit-slurm " + path("job.sh") + " --threads 1",
      dir_.string());
  ASSERT_EQ(emitted.exit_code, 0) << emitted.out << emitted.err;
  const std::string script = testing::slurp(path("job.sh"));
  EXPECT_NE(script.find("#SBATCH --ntasks=2\n"), std::string::npos) << script;
  EXPECT_NE(script.find("--threads 1 --launch srun --trial"), std::string::npos) << script;

  SingleNodeSlurm slurm(path("slurm"));
  ASSERT_TRUE(slurm.start(60)) << "the one-node Slurm did not come up\n" << slurm.logs();
  const auto plugins = slurm.client("srun --mpi=list");
  ASSERT_NE((plugins.out + plugins.err).find("pmix"), std::string::npos)
      << "Slurm's PMIx plugin is missing\n"
      << plugins.out << plugins.err;
  // The job's srun ranks inherit sbatch's environment (tests/support/mpirun.h says why).
  const auto submitted = slurm.client(std::string("env ") + testing::kRanksWithoutLeakCheck +
                                      " sbatch --parsable " + path("job.sh"));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err << script;
  const std::string job = submitted.out.substr(0, submitted.out.find_first_of(";\n"));
  ASSERT_TRUE(slurm.wait_until_gone(job, 180)) << "job " << job << " still queued\n"
                                               << slurm.logs();
  slurm.stop();
  for (int task = 0; task < 2; ++task) {
    const std::string log = testing::slurp(path(fmt::format("db/slurm-{}_{}.out", job, task)));
    EXPECT_NE(log.find("done "), std::string::npos) << log;
  }
  const auto local = testing::run_moet(
      "sweep " + one + " --db " + path("local/sweep.sqlite") + " --threads 1", dir_.string());
  ASSERT_EQ(local.exit_code, 0) << local.out << local.err;
  testing::expect_same_results(db, path("local/sweep.sqlite"), 1e-6);
  // One world of two ranks prints one result line; two worlds of one (srun without PMIx) two.
  for (const TrialRecord& t : ResultsStore::open_read_only(db).current_trials())
    EXPECT_EQ(testing::count_lines(testing::slurp(t.run_dir + "/train.log")), 1) << t.key;
}

// What no quoting can carry is refused with one line, before the database or script is written:
// a newline in a path would end a comment line of the script and run the rest as a command, and
// a backslash in the log directory makes Slurm drop %A_%a from the log name and fail the task.
TEST_F(SlurmTest, EmitSlurmRefusesPathsTheScriptCannotCarry) {
  const std::string text = testing::ladder_spec(tiny_config(), "[-8]");
  const std::string newline_spec = write_spec("two\nlines.toml", text);
  const std::string spec = write_spec("spec.toml", text);
  const struct {
    std::string spec, db, names;
  } cases[] = {{newline_spec, path("a/sweep.sqlite"), "the spec \"" + path("two\\nlines.toml")},
               {spec, path("back\\slash/sweep.sqlite"), "backslash"}};
  for (const auto& c : cases) {
    const auto r = testing::run_moet(
        "sweep " + quoted(c.spec) + " --db " + quoted(c.db) + " --emit-slurm " + path("job.sh"),
        dir_.string());
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_FALSE(file_exists(c.db)) << "nothing written";
    EXPECT_FALSE(file_exists(path("job.sh")));
  }
}

}  // namespace
}  // namespace moet::sweep
