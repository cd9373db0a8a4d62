// Which world this process is in: under an MPI launcher (mpirun, or srun with a PMI plugin) or
// alone. Decided from the environment before MPI is touched, so a plain process never calls
// MPI_Init (no PMIx server contact, no MPI start-up cost, no MPI in `moet train`'s behaviour).
//
// The launchers and what they set (docs/distributed.md §1.2):
//   OMPI_COMM_WORLD_SIZE   Open MPI's mpirun / prterun
//   PMIX_RANK              any PMIx launcher: srun --mpi=pmix, prterun, Open MPI's mpirun
//   PMI_RANK + PMI_SIZE    MPICH's Hydra, srun --mpi=pmi2
// srun without a PMI plugin sets only Slurm's variables: tasks of one step would each start a
// world of their own and train R separate copies, so several tasks of an srun step
// (SLURM_STEP_ID set, SLURM_STEP_NUM_TASKS > 1) without any of the above is an error. A batch
// script (no SLURM_STEP_ID) or `srun -n 1` is one process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "dist/world.h"

namespace moet::dist {

struct Launch {
  bool mpi = false;
  std::string source;  // the variable that decided, e.g. "OMPI_COMM_WORLD_SIZE"; empty if alone
};

using EnvLookup = std::function<const char*(const char*)>;  // getenv-like: nullptr when unset

// Throws Error (one line) for srun tasks without a PMI plugin.
Launch detect_launch(const EnvLookup& env);
Launch detect_launch();  // from this process's environment

// Whether a "NAME=value" environment entry is one detect_launch reads. A process that starts
// a one-process child (a sweep's trial) removes these from the child's environment: the child
// inherits the launcher's variables but is not one of its ranks.
bool is_launch_variable(std::string_view env_entry);

// The world of this process: MpiWorld (MPI_Init here; at most one per process) under a
// launcher, SingleWorld otherwise.
std::unique_ptr<World> make_world();

}  // namespace moet::dist
