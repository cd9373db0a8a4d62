// The memory check of a sweep (sweep/trial_memory.h): every ladder scale is checked before the
// first trial runs, and the plan's workers must fit side by side.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "sweep/local_sweep.h"
#include "sweep/trial_memory.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using TrialMemoryTest = testing::SweepFixture;

std::string spec_text(const std::string& config, const std::string& scales) {
  return config +
         "[grid]\nlr_log2 = [-6, -5]\n[[preset]]\nname = \"sp\"\n[[ladder]]\n"
         "name = \"width\"\naxes = [\"N\", \"Ne\"]\nscales = " +
         scales + "\n";
}

std::vector<const Trial*> all(const Expansion& e) {
  std::vector<const Trial*> out;
  for (const Trial& t : e.trials) out.push_back(&t);
  return out;
}

// Before, the trials ran longest first and the absurd one aborted in its child (std::bad_alloc),
// after the sweep had started; now nothing runs.
TEST_F(TrialMemoryTest, AnAbsurdScaleStopsTheSweepBeforeAnyTrialRuns) {
  const SweepSpec spec =
      parse_sweep_spec(spec_text(tiny_config(), "[1, 2, 100000]"), path("spec.toml"));
  const Expansion expansion = expand_sweep(spec);
  LocalSweepOptions options;
  options.progress = false;
  options.workers = 1;
  try {
    run_local_sweep(spec, expansion, path("s.sqlite"), options);
    FAIL() << "the sweep ran";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(
        what.rfind(path("spec.toml") + ": ladder 'width', scale 100000 (preset sp): memory: ", 0),
        0u)
        << what;
    EXPECT_NE(what.find("more than the"), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(path("s.runs"))) << "a trial ran";
}

TEST_F(TrialMemoryTest, WorkersMustFitSideBySide) {
  // Each trial alone fits in 60 MiB; two of the largest at once do not.
  const SweepSpec spec = parse_sweep_spec(
      spec_text(tiny_config("train.max_memory = \"60MiB\"\n"), "[1, 2]"), path("spec.toml"));
  const Expansion expansion = expand_sweep(spec);
  WorkerPlan plan;
  plan.threads = 1;
  plan.workers = 1;
  EXPECT_NO_THROW(require_trials_fit(spec, all(expansion), plan));
  plan.workers = 2;
  try {
    require_trials_fit(spec, all(expansion), plan);
    FAIL() << "two workers fit";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find(": memory: 2 workers running the largest trials at once need "),
        std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("allowed by train.max_memory; run fewer with --workers"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace moet::sweep
