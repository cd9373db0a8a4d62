// The one reader of what a launcher (mpirun, srun, MPICH's Hydra) puts in a process's
// environment. Two commands read it with different meanings:
//
//   moet train / bench  the launched processes form one MPI world and train one model
//                       (detect_launch, launch.h); srun tasks without a PMI plugin cannot.
//   moet sweep          the launched processes share out independent trials and never form a
//                       world (launched_rank); srun tasks without a PMI plugin are fine there.
//
// A sweep's trial is not part of the sweep's launch: it must not inherit these variables, or a
// `moet train` child of a sweep rank would take the sweep's place for its own and join (or
// refuse) the sweep's world. without_launcher_variables() removes exactly what the two readers
// read. Which variables say what (docs/distributed.md §1.2):
//
//   OMPI_COMM_WORLD_RANK/SIZE/LOCAL_SIZE   Open MPI's mpirun / prterun
//   PMIX_RANK                              any PMIx launcher: srun --mpi=pmix, prterun, mpirun
//   PMI_RANK/PMI_SIZE, MPI_LOCALNRANKS     MPICH's Hydra, srun --mpi=pmi2
//   SLURM_PROCID, SLURM_STEP_ID, SLURM_STEP_NUM_TASKS, SLURM_STEP_TASKS_PER_NODE, SLURM_NODEID
//                                          a task of an srun step (a batch script has
//                                          SLURM_PROCID too, but no step)
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace moet::dist {

using EnvLookup = std::function<const char*(const char*)>;  // getenv-like: nullptr when unset

// Whether this process is a rank of an MPI world its launcher set up.
struct Launch {
  bool mpi = false;
  std::string source;  // the variable that decided, e.g. "OMPI_COMM_WORLD_SIZE"; empty if alone
};

// Throws Error (one line) for the tasks of an srun step without a PMI plugin: each would start a
// world of its own and train a separate copy.
Launch detect_launch(const EnvLookup& env);
Launch detect_launch();  // from this process's environment

// This process's place among the processes one launcher started, whether or not they form a
// world: rank 0 of 1 when alone. Throws Error naming the variable when one is malformed.
struct LaunchedRank {
  int rank = 0;
  int size = 1;
  int local_size = 1;  // launched processes on this host (OMPI_COMM_WORLD_LOCAL_SIZE,
                       // MPI_LOCALNRANKS, or the step's tasks on this node)
  std::string source;  // which variables said so, for messages; "" when alone
};
LaunchedRank launched_rank(const EnvLookup& env);
LaunchedRank launched_rank();  // from this process's environment

// environ-style "NAME=value" entries without those the two readers above read.
std::vector<std::string> without_launcher_variables(const std::vector<std::string>& entries);
bool is_launcher_variable(std::string_view name);

}  // namespace moet::dist
