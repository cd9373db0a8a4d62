// Which share of a sweep this process runs, read from what the launcher put in the environment:
// mpirun's variables, PMI's, or those of a task of an srun step (srun without --mpi=pmi2 sets
// only Slurm's). A batch script has SLURM_PROCID and SLURM_NTASKS too, but is one process.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "core/error.h"
#include "sweep/resources.h"

namespace moet::sweep {
namespace {

// Sets the variables for one check and removes them (and every other launcher's) afterwards.
class LauncherEnv {
 public:
  explicit LauncherEnv(const std::map<std::string, std::string>& vars) {
    clear();
    for (const auto& [name, value] : vars) ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~LauncherEnv() { clear(); }

 private:
  static void clear() {
    for (const char* name :
         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_RANK",
          "PMI_SIZE", "MPI_LOCALNRANKS", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS",
          "SLURM_STEP_TASKS_PER_NODE", "SLURM_NODEID"})
      ::unsetenv(name);
  }
};

TEST(RankFromEnv, ATaskOfAnSrunStepHasItsRankAndItsNodesTaskCount) {
  {
    LauncherEnv env({{"SLURM_PROCID", "3"},
                     {"SLURM_STEP_NUM_TASKS", "5"},
                     {"SLURM_STEP_TASKS_PER_NODE", "2(x2),1"},
                     {"SLURM_NODEID", "1"}});
    const RankInfo info = rank_from_env();
    EXPECT_EQ(info.rank, 3);
    EXPECT_EQ(info.size, 5);
    EXPECT_EQ(info.local_size, 2);
    EXPECT_EQ(info.source, "SLURM_PROCID/SLURM_STEP_NUM_TASKS");
  }
  {
    LauncherEnv env({{"SLURM_PROCID", "4"},
                     {"SLURM_STEP_NUM_TASKS", "5"},
                     {"SLURM_STEP_TASKS_PER_NODE", "2(x2),1"},
                     {"SLURM_NODEID", "2"}});
    EXPECT_EQ(rank_from_env().local_size, 1);
  }
}

TEST(RankFromEnv, ABatchScriptIsOneProcessAndMpirunComesFirst) {
  {
    LauncherEnv env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}});
    const RankInfo info = rank_from_env();
    EXPECT_EQ(info.size, 1);
    EXPECT_EQ(info.source, "");
  }
  {
    LauncherEnv env({{"OMPI_COMM_WORLD_RANK", "1"},
                     {"OMPI_COMM_WORLD_SIZE", "2"},
                     {"SLURM_PROCID", "0"},
                     {"SLURM_STEP_NUM_TASKS", "1"}});
    EXPECT_EQ(rank_from_env().rank, 1);
    EXPECT_EQ(rank_from_env().size, 2);
  }
}

TEST(RankFromEnv, AMalformedTaskListIsOneClearError) {
  for (const char* list : {"2(x", "2,x", "0", "2(x2)"}) {
    LauncherEnv env({{"SLURM_PROCID", "0"},
                     {"SLURM_STEP_NUM_TASKS", "2"},
                     {"SLURM_STEP_TASKS_PER_NODE", list},
                     {"SLURM_NODEID", "2"}});
    try {
      rank_from_env();
      ADD_FAILURE() << list << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("SLURM_STEP_TASKS_PER_NODE='" + std::string(list)),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace moet::sweep
