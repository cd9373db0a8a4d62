// The run files a trial leaves, read back the same whichever trainer wrote them
// (docs/trainer-protocol.md): a well-formed finished run gives its outcome, an unfinished one
// none, a malformed one one line naming the file (and line) and the field, and a run that says
// done with a loss that is not finite counts as diverged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "sweep/trial_outcome.h"

namespace moet::sweep {
namespace {

class TrialOutcomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("moet_outcome_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& status, const std::string& metrics) const {
    write_file_atomic(dir_ + "/status.json", status);
    std::filesystem::remove(dir_ + "/metrics.jsonl");
    if (!metrics.empty()) write_file_atomic(dir_ + "/metrics.jsonl", metrics);
  }
  // The error reading the run directory gives, "" when it reads.
  std::string error() const {
    try {
      read_trial_outcome(dir_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::string dir_;
};

const std::string kDone =
    R"({"version": 1, "status": "done", "steps": 4, "train_loss": 4.0, "val_loss": 4.25,)"
    R"( "tokens_per_s": null})";
const std::string kMetrics =
    "{\"step\": 2, \"tokens\": 64, \"loss\": 4.5, \"lr\": 0.01}\n"
    "{\"step\": 4, \"tokens\": 128, \"loss\": null, \"lr\": 0.01, \"val_loss\": 4.25, "
    "\"val_moby\": 5.5}\n";

TEST_F(TrialOutcomeTest, AWellFormedFinishedRunGivesItsOutcome) {
  write(kDone, kMetrics);
  const auto outcome = read_trial_outcome(dir_);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, RunStatus::done);
  EXPECT_EQ(outcome->steps, 4);
  EXPECT_EQ(outcome->tokens, 128);
  EXPECT_EQ(outcome->val_loss, 4.25);
  EXPECT_TRUE(std::isnan(outcome->tokens_per_s)) << "null: not measured";
  ASSERT_EQ(outcome->curve.size(), 2u);
  EXPECT_TRUE(std::isnan(outcome->curve[1].loss));
  EXPECT_EQ(outcome->val_extra, nlohmann::json({{"moby", 5.5}}));

  // Without a version field: a run directory written before the field existed.
  write(R"({"status": "diverged", "steps": 3, "train_loss": null, "val_loss": null,)"
        R"( "tokens_per_s": 100})",
        kMetrics);
  ASSERT_TRUE(read_trial_outcome(dir_));
  EXPECT_EQ(read_trial_outcome(dir_)->status, RunStatus::diverged);
}

TEST_F(TrialOutcomeTest, AnUnfinishedRunHasNoOutcome) {
  EXPECT_FALSE(read_trial_outcome(dir_)) << "no status.json";
  write(R"({"version": 1, "status": "running", "step": 0})", "");
  EXPECT_FALSE(read_trial_outcome(dir_));
  write(R"({"version": 1, "status": "stopped", "steps": 2})", "");
  EXPECT_FALSE(read_trial_outcome(dir_));
}

TEST_F(TrialOutcomeTest, DoneWithALossThatIsNotFiniteIsDiverged) {
  write(R"({"version": 1, "status": "done", "steps": 4, "train_loss": 4.0, "val_loss": null,)"
        R"( "tokens_per_s": 10})",
        kMetrics);
  const auto outcome = read_trial_outcome(dir_);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, RunStatus::diverged);
  EXPECT_NE(outcome->error.find("status done, but val_loss is not finite"), std::string::npos)
      << outcome->error;
}

TEST_F(TrialOutcomeTest, MalformedFilesAreOneLineNamingTheFileAndTheField) {
  const std::string status = dir_ + "/status.json", metrics = dir_ + "/metrics.jsonl";
  const auto expect_error = [&](const std::string& status_text, const std::string& metrics_text,
                                const std::string& expected) {
    write(status_text, metrics_text);
    const std::string e = error();
    EXPECT_NE(e.find(expected), std::string::npos) << "expected '" << expected << "' in: " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  };
  expect_error(R"({"status": "done", "steps": 4, "train_loss": NaN})", kMetrics,
               status + ": corrupt");
  expect_error(R"({"status": "done", "steps": 4, "train_loss": NaN})", kMetrics,
               "NaN and Infinity are not JSON; write null");
  expect_error(R"({"version": 2, "status": "done"})", kMetrics,
               status + ": version: 2 is not one this moet reads (1)");
  expect_error(R"({"version": 1, "status": "finished"})", kMetrics,
               status + ": status: expected running, stopped, done or diverged (got \"finished\")");
  expect_error(R"({"version": 1, "status": "done", "train_loss": 1, "val_loss": 1})", kMetrics,
               status + ": steps: missing");
  expect_error(R"({"version": 1, "status": "done", "steps": 4, "train_loss": 1,)"
               R"( "tokens_per_s": 1})",
               kMetrics, status + ": val_loss: missing");
  expect_error(R"({"version": 1, "status": "done", "steps": 4, "train_loss": "low",)"
               R"( "val_loss": 1, "tokens_per_s": 1})",
               kMetrics, status + ": train_loss: expected a number or null (got \"low\")");
  expect_error(kDone, "", metrics + ": missing");
  expect_error(kDone, "{\"step\": 2, \"tokens\": 64, \"loss\": 4.5}\nnot json\n",
               metrics + ":2: not JSON");
  expect_error(kDone, "{\"step\": 2, \"tokens\": 64, \"loss\": NaN}\n",
               "NaN and Infinity are not JSON");
  expect_error(kDone, "{\"step\": 2, \"tokens\": 64, \"loss\": \"high\"}\n",
               metrics + ":1: loss: expected a number or null (got \"high\")");
  expect_error(kDone, "{\"tokens\": 64, \"loss\": 1}\n", metrics + ":1: step: missing");
  expect_error(kDone, "{\"step\": 2.5, \"tokens\": 64, \"loss\": 1}\n",
               metrics + ":1: step: expected an integer >= 0 (got 2.5)");
  expect_error(kDone,
               "{\"step\": 4, \"tokens\": 64, \"loss\": 1}\n{\"step\": 4, \"tokens\": 64, "
               "\"loss\": 1}\n",
               metrics + ":2: step: 4 does not follow step 4");
  expect_error(kDone,
               "{\"step\": 2, \"tokens\": 64, \"loss\": 1, \"val_loss\": 1, \"val_moby\": \"x\"}\n",
               metrics + ":1: val_moby: expected a number or null");
}

}  // namespace
}  // namespace moet::sweep
