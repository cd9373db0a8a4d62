// Sweeps whose trials run a trainer of the spec's own ([trainer] command) instead of `moet train`.
// A shell script stands in for it here (fast, no PyTorch): by seed it finishes, exits non-zero,
// writes a malformed metrics line, writes Python's NaN into status.json, or says done with a null
// loss. Each is recorded (done, failed with the file and field, diverged), the sweep goes on, a
// rerun redoes only what did not finish, --trial runs one, and a spec with an unknown
// placeholder stops before touching the database. The PyTorch example runs through sweep, report
// and transfer in torch_trainer_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/run_binary.h"
#include "core/files.h"
#include "sweep/results_store.h"
#include "sweep/sqlite.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using testing::ladder_spec;
using testing::run_moet;
using testing::SweepFixture;

// Checks its inputs (the config and table files, the thread count, MOET_BINARY), then acts out
// the outcome its seed names.
const char* kFakeTrainer = R"(#!/bin/sh
config=$1 table=$2 out=$3 threads=$4 seed=$5
grep -q "^N = 16" "$config" || { echo "no config at $config"; exit 9; }
grep -q '"preset": "completep-moe"' "$table" || { echo "no table at $table"; exit 9; }
[ "$threads" = 1 ] || { echo "threads $threads"; exit 9; }
[ -x "$MOET_BINARY" ] || { echo "MOET_BINARY not set"; exit 9; }
metrics='{"step": 2, "tokens": 128, "loss": 4.5, "lr": 0.01}
{"step": 4, "tokens": 256, "loss": 4.0, "lr": 0.01, "val_loss": 4.25}'
case $seed in
  1) echo "$metrics" > "$out/metrics.jsonl"
     echo '{"version": 1, "status": "done", "steps": 4, "train_loss": 4.0, "val_loss": 4.25, "tokens_per_s": 10}' > "$out/status.json" ;;
  2) echo "fake trainer: out of luck"; exit 1 ;;
  3) echo '{"step": 2, "tokens": 128, "loss": "high"}' > "$out/metrics.jsonl"
     echo '{"version": 1, "status": "done", "steps": 4, "train_loss": 4.0, "val_loss": 4.25, "tokens_per_s": 10}' > "$out/status.json" ;;
  4) echo "$metrics" > "$out/metrics.jsonl"
     echo '{"version": 1, "status": "done", "steps": 4, "train_loss": NaN, "val_loss": NaN, "tokens_per_s": 10}' > "$out/status.json" ;;
  5) echo "$metrics" > "$out/metrics.jsonl"
     echo '{"version": 1, "status": "done", "steps": 4, "train_loss": 4.0, "val_loss": null, "tokens_per_s": 10}' > "$out/status.json" ;;
esac
)";

class TrainerSweepTest : public SweepFixture {
 protected:
  // One trial per seed 1..5 (a second ladder at the base holds the seeds), run by the fake
  // trainer; `seed` is what the template passes as its last argument.
  std::string fake_trainer_spec(const std::string& seed) const {
    return "[trainer]\ncommand = \"/bin/sh '" + path("fake trainer.sh") +
           "' {config} {table} {out} {threads} " + seed + "\"\n" +
           ladder_spec(tiny_config(), "[-7]", "[1]") + "[[ladder]]\nname = \"seeds\"\n" +
           "axes = [\"N\"]\nscales = [1]\nseeds = [1, 2, 3, 4, 5]\n";
  }
};

TEST_F(TrainerSweepTest, EachOutcomeIsRecordedTheSweepGoesOnAndARerunRedoesOnlyTheUnfinished) {
  write_file_atomic(path("fake trainer.sh"), kFakeTrainer);
  const std::string spec = write_spec("spec.toml", fake_trainer_spec("{seed}"));
  const std::string db = path("out/sweep.sqlite");
  auto r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  ASSERT_EQ(r.exit_code, 1) << "some trials failed\n" << r.out << r.err;
  EXPECT_NE(r.out.find("1 done, 1 diverged, 3 failed"), std::string::npos) << r.out;

  std::map<int64_t, TrialRecord> by_seed;
  for (const TrialRecord& t : ResultsStore::open_read_only(db).current_trials())
    by_seed[t.seed] = t;
  ASSERT_EQ(by_seed.size(), 5u);
  EXPECT_EQ(by_seed[1].status, RunStatus::done) << by_seed[1].error;
  EXPECT_EQ(by_seed[1].val_loss, 4.25);
  EXPECT_EQ(by_seed[1].steps, 4);
  EXPECT_EQ(ResultsStore::open_read_only(db).curve(by_seed[1].key).size(), 2u);
  EXPECT_EQ(by_seed[1].command.front(), "/bin/sh") << "the trainer's argv, as it ran";
  EXPECT_EQ(by_seed[1].command.back(), "1") << "{seed}";
  EXPECT_EQ(by_seed[2].status, RunStatus::failed);
  EXPECT_EQ(by_seed[2].error, "exit status 1: fake trainer: out of luck");
  EXPECT_EQ(by_seed[3].status, RunStatus::failed);
  EXPECT_EQ(by_seed[3].error, "exited with 0, but " + by_seed[3].run_dir +
                                  "/metrics.jsonl:1: loss: expected a number or null (got "
                                  "\"high\")");
  EXPECT_EQ(by_seed[4].status, RunStatus::failed);
  EXPECT_NE(by_seed[4].error.find(by_seed[4].run_dir + "/status.json: corrupt"), std::string::npos)
      << by_seed[4].error;
  EXPECT_NE(by_seed[4].error.find("NaN and Infinity are not JSON"), std::string::npos);
  EXPECT_EQ(by_seed[5].status, RunStatus::diverged) << "done, but its val_loss is null";

  // Again: the done and diverged trials stay; the failed ones run (and fail) again.
  r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("0 done, 0 diverged, 3 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(2 finished earlier)"), std::string::npos) << r.out;

  // A sweep killed after the trainer finished but before the result was recorded: the run
  // directory (its trial-config.toml is this trial's) holds the result, which is taken from there.
  {
    sql::Db conn(db, sql::Access::read_write, 10000);
    conn.exec("UPDATE trials SET status = 'running' WHERE seed = 1");
  }
  r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  EXPECT_NE(r.out.find("1 done, 0 diverged, 3 failed (1 recorded from their run directories)"),
            std::string::npos)
      << r.out;

  // What a Slurm array task runs: one trial by index, recorded in the same database.
  const int64_t index = by_seed[2].index;
  // Seed 2 now exits 0 and writes nothing.
  std::string quiet_trainer = kFakeTrainer;
  quiet_trainer.replace(quiet_trainer.find("2) echo"), 2, "6)");
  write_file_atomic(path("fake trainer.sh"), quiet_trainer);
  r = run_moet("sweep " + spec + " --db " + db + " --threads 1 --trial " + std::to_string(index),
               dir_.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("exited with 0 but left no finished status.json"), std::string::npos)
      << r.out;

  // The job array's tasks run that same `--trial`: the script is the one any sweep gets.
  r = run_moet("sweep " + spec + " --db " + db + " --emit-slurm " + path("job.sh"), dir_.string());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(read_file(path("job.sh")).find("--trial \"$SLURM_ARRAY_TASK_ID\""), std::string::npos);
}

TEST_F(TrainerSweepTest, AnUnknownPlaceholderStopsTheSweepBeforeTheDatabaseChanges) {
  write_file_atomic(path("fake trainer.sh"), kFakeTrainer);
  const std::string db = path("out/sweep.sqlite");
  std::string spec = write_spec("spec.toml", fake_trainer_spec("{seed}"));
  auto r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string before = read_file(db);

  spec = write_spec("spec.toml", fake_trainer_spec("{sed}"));
  for (const std::string extra : {"", " --dry-run", " --trial 0", " --emit-slurm job.sh"}) {
    r = run_moet("sweep " + spec + " --db " + db + extra, dir_.string());
    EXPECT_EQ(r.exit_code, 2) << extra << r.out << r.err;
    EXPECT_EQ(r.err, "moet sweep: " + spec +
                         ": [trainer] command: unknown placeholder {sed} (known: {config}, "
                         "{table}, {out}, {threads}, {seed})\n")
        << extra;
    EXPECT_EQ(read_file(db), before) << extra << ": the database is untouched";
  }
}

}  // namespace
}  // namespace moet::sweep
