// Which world this process is in: under an MPI launcher (mpirun, or srun with a PMI plugin) or
// alone. Decided from the environment (detect_launch, launcher_env.h) before MPI is touched, so
// a plain process never calls MPI_Init (no PMIx server contact, no MPI start-up cost, no MPI in
// `moet train`'s behaviour). A batch script (no SLURM_STEP_ID) or `srun -n 1` is one process.
#pragma once

#include <memory>

#include "dist/launcher_env.h"
#include "dist/world.h"

namespace moet::dist {

// The world of this process: MpiWorld (MPI_Init here; at most one per process) under a
// launcher, SingleWorld otherwise.
std::unique_ptr<World> make_world();

}  // namespace moet::dist
