// A sweep of PyTorch trials: examples/torch/train.py as the spec's [trainer], through `moet
// sweep`, `moet report` and `moet transfer`, with a trial that diverges (LR 2^6) and one that
// fails (train.py refuses bf16). Six trials of a tiny model on the fixture's random tokens.
#include <gtest/gtest.h>

#include <cmath>

#include "../support/run_binary.h"
#include "core/files.h"
#include "sweep/results_store.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using testing::run_command;
using testing::run_moet;
using testing::SweepFixture;
using TorchTrainerTest = SweepFixture;

TEST_F(TorchTrainerTest, PyTorchTrialsRunThroughSweepReportAndTransfer) {
  if (run_command("/usr/bin/python3 -c 'import torch'", dir_.string()).exit_code != 0)
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (Debian: apt-get install python3-torch)";
  const std::string spec = write_spec(
      "spec.toml", "[trainer]\ncommand = \"/usr/bin/python3 " MOET_SOURCE_DIR
                   "/examples/torch/train.py --config {config} --table {table} --out {out} "
                   "--quiet\"\n" +
                       tiny_config("", 16) +
                       "[grid]\nlr_log2 = [-6, 6]\n"
                       "[[preset]]\nname = \"completep-moe\"\n"
                       "[[preset]]\nname = \"sp\"\nlr_log2 = [-6]\n"
                       "[preset.config]\ntrain.precision = \"bf16\"\n"
                       "[[ladder]]\nname = \"width\"\naxes = [\"N\", \"Ne\"]\nscales = [1, 2]\n");
  const std::string db = path("out/sweep.sqlite");
  auto r = run_moet("sweep " + spec + " --db " + db + " --workers 2 --threads 1", dir_.string());
  ASSERT_EQ(r.exit_code, 1) << "the bf16 trials failed\n" << r.out << r.err;
  ASSERT_NE(r.out.find("2 done, 2 diverged, 2 failed"), std::string::npos) << r.out;
  for (const TrialRecord& t : ResultsStore::open_read_only(db).current_trials()) {
    if (t.preset == "sp") {
      EXPECT_EQ(t.status, RunStatus::failed) << t.key;
      EXPECT_EQ(t.error, "exit status 2: train.py: train.precision: this example trains in fp32 "
                         "(got bf16)");
    } else if (t.lr > 1) {
      EXPECT_EQ(t.status, RunStatus::diverged) << t.key << ": " << t.error;
    } else {
      EXPECT_EQ(t.status, RunStatus::done) << t.key << ": " << t.error;
      EXPECT_EQ(t.steps, 16);
      EXPECT_TRUE(std::isfinite(t.val_loss) && t.val_loss < std::log(64.0) + 0.5) << t.val_loss;
      EXPECT_EQ(ResultsStore::open_read_only(db).curve(t.key).size(), 4u) << "every 4 steps";
      EXPECT_FALSE(file_exists(t.run_dir + "/ckpt-000000016")) << "train.save = false";
    }
  }

  r = run_moet("report " + db + " --out " + path("report"), dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("completep-moe / width: optimum drifts"), std::string::npos) << r.out;
  EXPECT_TRUE(file_exists(path("report/index.html")));

  write_file_atomic(path("target.toml"), "[model]\nN = 64\nNe = 64\n");
  r = run_moet("transfer --db " + db + " --preset completep-moe --target " + path("target.toml") +
                   " --out " + path("target.transfer.toml"),
               dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("optim.lr        = 0.015625"), std::string::npos) << r.out;
  EXPECT_NE(read_file(path("target.transfer.toml")).find("lr = 0.015625"), std::string::npos);
}

}  // namespace
}  // namespace moet::sweep
