// The one reader of the launcher environment (dist/launcher_env.h): the variables it strips from
// a sweep's trial processes are exactly those that make train's detect_launch or the sweep's
// launched_rank see a launcher, so a trial of a sweep rank is a process of its own.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/launcher_env.h"

namespace moet::dist {
namespace {

// A getenv over "NAME=value" entries that records every name asked for.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::set<std::string> asked;
  explicit FakeEnv(const std::vector<std::string>& entries) {
    for (const std::string& e : entries) vars[e.substr(0, e.find('='))] = e.substr(e.find('=') + 1);
  }
  EnvLookup lookup() {
    return [this](const char* name) -> const char* {
      asked.insert(name);
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

// What mpirun gives rank 1 of 2 (a subset of Open MPI 4.1's), and a task of `srun -n 2` without
// a PMI plugin, each with variables of the user's that a trial must keep.
const std::vector<std::string> kMpirunRank = {"PATH=/usr/bin",
                                              "OMPI_MCA_btl_vader_single_copy_mechanism=none",
                                              "OMPI_COMM_WORLD_SIZE=2",
                                              "OMPI_COMM_WORLD_RANK=1",
                                              "OMPI_COMM_WORLD_LOCAL_SIZE=2",
                                              "PMIX_RANK=1",
                                              "HOME=/root"};
const std::vector<std::string> kSrunTask = {"PATH=/usr/bin",          "SLURM_JOB_ID=7",
                                            "SLURM_PROCID=1",         "SLURM_STEP_ID=0",
                                            "SLURM_STEP_NUM_TASKS=2", "SLURM_STEP_TASKS_PER_NODE=2",
                                            "SLURM_NODEID=0",         "SLURM_CPUS_PER_TASK=1"};

TEST(LauncherEnv, ATrialWithoutTheSweepsLauncherVariablesIsAloneForBothReaders) {
  FakeEnv mpirun(kMpirunRank);
  EXPECT_TRUE(detect_launch(mpirun.lookup()).mpi);
  EXPECT_EQ(launched_rank(mpirun.lookup()).rank, 1);
  FakeEnv srun(kSrunTask);
  EXPECT_THROW(detect_launch(srun.lookup()), Error) << "a world needs PMI";
  EXPECT_EQ(launched_rank(srun.lookup()).size, 2) << "a sweep's share does not";

  for (const auto* entries : {&kMpirunRank, &kSrunTask}) {
    FakeEnv trial(without_launcher_variables(*entries));
    EXPECT_FALSE(detect_launch(trial.lookup()).mpi);
    const LaunchedRank alone = launched_rank(trial.lookup());
    EXPECT_EQ(alone.size, 1);
    EXPECT_EQ(alone.source, "");
    EXPECT_EQ(trial.vars.count("PATH"), 1u);
  }
  const auto kept = without_launcher_variables(kMpirunRank);
  EXPECT_EQ(kept,
            (std::vector<std::string>{
                "PATH=/usr/bin", "OMPI_MCA_btl_vader_single_copy_mechanism=none", "HOME=/root"}));
  EXPECT_EQ(without_launcher_variables(kSrunTask),
            (std::vector<std::string>{"PATH=/usr/bin", "SLURM_JOB_ID=7", "SLURM_CPUS_PER_TASK=1"}));
}

TEST(LauncherEnv, EveryVariableEitherReaderAsksForIsOneItStrips) {
  for (const auto* entries : {&kMpirunRank, &kSrunTask}) {
    FakeEnv env(*entries);
    try {
      detect_launch(env.lookup());
    } catch (const Error&) {}
    launched_rank(env.lookup());
    FakeEnv none({});
    detect_launch(none.lookup());
    launched_rank(none.lookup());
    env.asked.insert(none.asked.begin(), none.asked.end());
    EXPECT_GE(env.asked.size(), 5u);
    for (const std::string& name : env.asked) EXPECT_TRUE(is_launcher_variable(name)) << name;
  }
}

}  // namespace
}  // namespace moet::dist
