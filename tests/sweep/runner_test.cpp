// Sweeps through the binary: results land in the database, a diverged trial is recorded and the
// sweep goes on, a failed trial is recorded with its error, a rerun skips what finished, a sweep
// killed with SIGKILL loses nothing and duplicates nothing, MPI ranks share the trials, --trial
// runs one, and --emit-slurm writes a job-array script that bash parses.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "../support/run_binary.h"
#include "core/error.h"
#include "sweep/results_store.h"
#include "sweep/sqlite.h"
#include "sweep_fixture.h"

extern char** environ;

namespace moet::sweep {
namespace {

using testing::ladder_spec;
using testing::run_moet;
using testing::SweepFixture;
using RunnerTest = SweepFixture;

std::map<std::string, RunStatus> statuses_of(const std::string& db) {
  return ResultsStore::open_read_only(db).statuses();
}

int64_t count(const std::string& db, const std::string& sql) {
  sql::Db conn(db, sql::Access::read_only, 10000);
  auto q = conn.prepare(sql);
  int64_t n = -1;
  while (q.step()) n = q.column_int(0);
  return n;
}

TEST_F(RunnerTest, RecordsResultsAndDivergenceThenSkipsFinishedTrials) {
  // 2^6 makes Adam blow the loss up within a few steps: the trainer stops it as diverged.
  const std::string spec = write_spec("spec.toml", ladder_spec(tiny_config(), "[-7, -5, 6]"));
  const std::string db = path("out/sweep.sqlite");
  auto r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("4 done, 2 diverged, 0 failed"), std::string::npos) << r.out;
  const auto trials = ResultsStore::open_read_only(db).current_trials();
  ASSERT_EQ(trials.size(), 6u);
  int diverged = 0;
  for (const TrialRecord& t : trials) {
    if (t.lr > 1) {
      EXPECT_EQ(t.status, RunStatus::diverged) << t.key;
      ++diverged;
    } else {
      EXPECT_EQ(t.status, RunStatus::done) << t.key << ": " << t.error;
      EXPECT_TRUE(std::isfinite(t.val_loss));
      EXPECT_TRUE(std::isfinite(t.train_loss));
      EXPECT_EQ(t.steps, 12);
      EXPECT_TRUE(t.val_extra.is_object());
    }
    EXPECT_GT(t.seconds, 0);
    EXPECT_EQ(t.points.size(), 1u);
    EXPECT_NE(t.config_toml.find("N = "), std::string::npos);
    EXPECT_EQ(t.command.front(), "train");
    EXPECT_TRUE(file_exists(t.run_dir + "/metrics.jsonl"));
    EXPECT_GT(count(db, "SELECT COUNT(*) FROM curves WHERE key = '" + t.key + "'"), 0);
  }
  EXPECT_EQ(diverged, 2) << "the sweep went on past the diverged trials";
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM curves c JOIN trials t USING(key) "
                      "WHERE t.status = 'done' AND c.step = 12"),
            4)
      << "each finished curve reaches the last step";

  // The same command again: nothing left to run.
  r = run_moet("sweep " + spec + " --db " + db, dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all finished earlier"), std::string::npos) << r.out;

  // Renamed and moved, same trials: still nothing to run, and the report will use the new name.
  const std::string renamed = write_spec(
      "renamed.toml", "name = \"renamed\"\n" + ladder_spec(tiny_config(), "[-7, -5, 6]"));
  r = run_moet("sweep " + renamed + " --db " + db, dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all finished earlier"), std::string::npos) << r.out;
  EXPECT_EQ(ResultsStore::open_read_only(db).meta("name"), "renamed");
  EXPECT_EQ(ResultsStore::open_read_only(db).meta("spec_path"), renamed);

  // A result that reached its run directory but not the database is imported, not retrained.
  {
    sql::Db conn(db, sql::Access::read_write, 10000);
    conn.exec("UPDATE trials SET status = 'running' WHERE lr < 0.01");
  }
  r = run_moet("sweep " + spec + " --db " + db, dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n') - 4, 2) << r.out;
  EXPECT_NE(r.out.find("recorded from its run directory"), std::string::npos) << r.out;
  for (const auto& [key, status] : statuses_of(db)) EXPECT_TRUE(is_finished(status)) << key;
}

TEST_F(RunnerTest, AFailedTrialIsRecordedWithItsErrorAndTheExitStatusSaysSo) {
  // The data file is only opened by the trial, so the spec expands fine and each trial fails.
  std::string config = tiny_config();
  config.replace(config.find(path("train.bin")), path("train.bin").size(), path("missing.bin"));
  const std::string spec = write_spec("spec.toml", ladder_spec(config, "[-7]", "[1]"));
  const auto r = run_moet("sweep " + spec + " --db " + path("db.sqlite"), dir_.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto trials = ResultsStore::open_read_only(path("db.sqlite")).current_trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].status, RunStatus::failed);
  EXPECT_NE(trials[0].error.find("missing.bin"), std::string::npos) << trials[0].error;
  EXPECT_NE(trials[0].error.find("exit status 2"), std::string::npos) << trials[0].error;
}

pid_t spawn_sweep(const std::string& args, const std::string& log) {
  std::vector<std::string> text = {
      "/bin/sh", "-c", "exec " + std::string(MOET_BINARY) + " " + args + " >" + log + " 2>&1"};
  std::vector<char*> argv;
  for (auto& a : text) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

// Processes whose command line mentions `needle` (the test's scratch directory).
int processes_mentioning(const std::string& needle) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST_F(RunnerTest, ASweepKilledMidwayLosesNothingAndDuplicatesNothing) {
  // Eight trials of ~40 steps on one worker: long enough to kill the sweep between trials.
  const std::string spec = write_spec(
      "spec.toml", ladder_spec(tiny_config("", 40, 5), "{ from = -9, to = -6 }", "[1, 2]"));
  const std::string db = path("sweep.sqlite");
  const pid_t sweep =
      spawn_sweep("sweep " + spec + " --db " + db + " --workers 1", path("first.log"));

  // Kill it with SIGKILL once some, but not all, trials are in.
  int64_t done_at_kill = 0;
  for (int i = 0; i < 3000 && done_at_kill < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (file_exists(db)) {
      try {
        done_at_kill = count(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'");
      } catch (const Error&) {
        // Not created yet.
      }
    }
  }
  ASSERT_EQ(::kill(sweep, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(sweep, &status, 0), sweep);
  ASSERT_TRUE(WIFSIGNALED(status));
  const int64_t done_after_kill = count(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'");
  ASSERT_GE(done_after_kill, 2);
  ASSERT_LT(done_after_kill, 8) << "the sweep finished before it could be killed";
  // Its trial died with it (PR_SET_PDEATHSIG): nothing keeps training into the directory.
  for (int i = 0; i < 200 && processes_mentioning(dir_.string() + "/sweep.runs") > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(processes_mentioning(dir_.string() + "/sweep.runs"), 0);

  std::map<std::string, std::string> finished_before;
  {
    sql::Db conn(db, sql::Access::read_only, 10000);
    auto q = conn.prepare("SELECT key, finished_at FROM trials WHERE status = 'done'");
    while (q.step()) finished_before[q.column_text(0)] = q.column_text(1);
  }
  const auto r = run_moet("sweep " + spec + " --db " + db + " --workers 1", dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(fmt::format("{} finished earlier", finished_before.size())),
            std::string::npos)
      << r.out;

  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials"), 8) << "no duplicate, no lost trial";
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'"), 8);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM curves"), 8 * 8) << "40 steps, a line every 5";
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM (SELECT key, step FROM curves GROUP BY key, step "
                      "HAVING COUNT(*) > 1)"),
            0);
  sql::Db conn(db, sql::Access::read_only, 10000);
  auto q = conn.prepare("SELECT key, finished_at FROM trials");
  while (q.step()) {
    if (finished_before.count(q.column_text(0))) {
      EXPECT_EQ(finished_before[q.column_text(0)], q.column_text(1)) << "not trained again";
    }
  }
}

TEST_F(RunnerTest, MpiRanksShareTheTrialsAndTrialRunsOne) {
  const std::string spec = write_spec("spec.toml", ladder_spec(tiny_config(), "[-8, -7, -6]"));
  const std::string db = path("mpi.sqlite");
  // More ranks than trials: rank 6 of 7 has none of the six and says so, not "all finished".
  const auto idle = testing::run_command(
      fmt::format("env OMPI_COMM_WORLD_RANK=6 OMPI_COMM_WORLD_SIZE=7 {} sweep {} --db {}",
                  MOET_BINARY, spec, db),
      dir_.string());
  ASSERT_EQ(idle.exit_code, 0) << idle.out << idle.err;
  EXPECT_NE(idle.out.find("; no unfinished trial falls to MPI rank 6 of 7\n"), std::string::npos)
      << idle.out;
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials WHERE status != 'pending'"), 0);
  // Rank 0 of 2, as mpirun describes it in the environment.
  const std::string rank0 =
      fmt::format("env OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=2 {} sweep {} --db {}",
                  MOET_BINARY, spec, db);
  ASSERT_EQ(std::system((rank0 + " >" + path("r0.log") + " 2>&1").c_str()), 0);
  auto after_rank0 = statuses_of(db);
  int finished = 0;
  for (const auto& [key, status] : after_rank0) finished += is_finished(status);
  EXPECT_EQ(finished, 3) << "rank 0 of 2 runs trials 0, 2, 4";
  EXPECT_NE(testing::slurp(path("r0.log")).find("MPI rank 0 of 2"), std::string::npos);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials WHERE status != 'pending' AND idx % 2 = 1"), 0);
  {
    sql::Db conn(db, sql::Access::read_only, 10000);
    auto q = conn.prepare("PRAGMA journal_mode");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "delete") << "ranks may sit on several hosts: no WAL";
    while (q.step()) {}
  }

  // --trial runs exactly one, the way a Slurm array task does.
  const auto one = run_moet("sweep " + spec + " --db " + db + " --trial 1", dir_.string());
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'"), 4);
  EXPECT_EQ(count(db, "SELECT status = 'done' FROM trials WHERE idx = 1"), 1);
  const auto again = run_moet("sweep " + spec + " --db " + db + " --trial 1", dir_.string());
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("already done"), std::string::npos) << again.out;
  const auto bad = run_moet("sweep " + spec + " --db " + db + " --trial 99", dir_.string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--trial 99"), std::string::npos) << bad.err;

  const std::string rank1 =
      fmt::format("env PMI_RANK=1 PMI_SIZE=2 {} sweep {} --db {}", MOET_BINARY, spec, db);
  ASSERT_EQ(std::system((rank1 + " >" + path("r1.log") + " 2>&1").c_str()), 0);
  for (const auto& [key, status] : statuses_of(db)) EXPECT_EQ(status, RunStatus::done) << key;
}

TEST_F(RunnerTest, EmitSlurmWritesAJobArrayScriptThatBashParses) {
  const std::string spec = write_spec("spec.toml", ladder_spec(tiny_config(), "[-8, -7, -6]"));
  const std::string db = path("slurm.sqlite"), script = path("job.sh");
  const auto dry = run_moet("sweep " + spec + " --db " + db + " --dry-run", dir_.string());
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto trials = std::count(dry.out.begin(), dry.out.end(), '\n') / 2;
  EXPECT_EQ(trials, 6) << dry.out;
  EXPECT_FALSE(file_exists(db)) << "a dry run writes nothing";

  const auto r = run_moet(
      "sweep " + spec + " --db " + db + " --emit-slurm " + script + " --threads 2", dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string text = testing::slurp(script);
  EXPECT_EQ(text.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_NE(text.find("#SBATCH --array=0-5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#SBATCH --cpus-per-task=2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--trial \"$SLURM_ARRAY_TASK_ID\""), std::string::npos) << text;
  EXPECT_NE(text.find("sweep " + spec + " --db " + db), std::string::npos) << text;
  // Every #SBATCH line comes before the first command, as sbatch requires.
  const size_t first_command = text.find("\nset -euo");
  EXPECT_EQ(text.find("#SBATCH", first_command), std::string::npos);
  EXPECT_EQ(std::system(("bash -n " + script).c_str()), 0);
  EXPECT_TRUE((std::filesystem::status(script).permissions() &
               std::filesystem::perms::owner_exec) != std::filesystem::perms::none);
  EXPECT_EQ(statuses_of(db).size(), 6u) << "the trials are registered for the array tasks";

  // One array task, as Slurm would run it (SLURM_ARRAY_TASK_ID set, the script's last line).
  const std::string task =
      "env SLURM_ARRAY_TASK_ID=3 bash " + script + " >" + path("task.log") + " 2>&1";
  ASSERT_EQ(std::system(task.c_str()), 0) << testing::slurp(path("task.log"));
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM trials WHERE status = 'done'"), 1);
  EXPECT_EQ(count(db, "SELECT status = 'done' FROM trials WHERE idx = 3"), 1);
}

TEST_F(RunnerTest, BadInputIsOneLineAndExitStatusTwo) {
  const std::string spec =
      write_spec("spec.toml", ladder_spec(tiny_config(), "[-7]") + "oops = 1\n");
  for (const std::string& args :
       {"sweep " + spec + " --db " + path("x.sqlite"),
        "sweep " + path("nosuch.toml") + " --db " + path("x.sqlite"),
        "sweep " + spec + " --db " + path("x.sqlite") + " --workers 64"}) {
    const auto r = run_moet(args, dir_.string());
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(testing::count_lines(r.err), 1) << r.err;
  }
  // A database that is not a sweep's.
  {
    sql::Db other(path("other.sqlite"), sql::Access::read_write, 1000);
    other.exec("CREATE TABLE t(x)");
  }
  const std::string good = write_spec("good.toml", ladder_spec(tiny_config(), "[-7]"));
  const auto r = run_moet("sweep " + good + " --db " + path("other.sqlite"), dir_.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a moet sweep database"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace moet::sweep
