// How a sweep divides the machine: the cores it may use, which share of the trials this process
// runs under mpirun, and how many trials run at once with how many threads each.
//
// The default rule (docs/sweeps.md): one thread per trial and one trial per core. Trials are
// independent, so running them side by side scales perfectly, while one small model on several
// threads does not (measured on the demo's shapes, docs/sweeps.md). Only when fewer trials than
// cores remain do the spare cores become threads. workers x threads never exceeds the cores.
#pragma once

#include <cstdint>
#include <string>

namespace moet::sweep {

// This process's place under mpirun (OMPI_COMM_WORLD_RANK/SIZE, or PMI_RANK/PMI_SIZE for MPICH
// and `srun --mpi=pmi2`) or as a task of an srun step (SLURM_PROCID/SLURM_STEP_NUM_TASKS); rank 0
// of 1 otherwise.
struct RankInfo {
  int rank = 0;
  int size = 1;
  int local_size = 1;  // ranks on this host (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS, or
                       // the step's tasks on this node, SLURM_STEP_TASKS_PER_NODE)
  std::string source;  // which variables said so, for messages; "" when not under MPI
};
RankInfo rank_from_env();

// CPUs this process may run on (its affinity mask); under MPI without binding, the host's CPUs
// divided among its local ranks.
int available_cores(const RankInfo& rank);

struct WorkerPlan {
  int workers = 1;
  int threads = 1;  // train.threads of every trial
  int cores = 1;
  std::string why;  // how the numbers were chosen, for the sweep's header line
};

// workers_opt / threads_opt: the --workers / --threads options (0: not given); spec_threads:
// train.threads in the spec's [config] (0: not given); trials: how many this process will run.
// Throws Error when the given numbers oversubscribe the cores.
WorkerPlan plan_workers(int cores, int64_t trials, int workers_opt, int threads_opt,
                        int64_t spec_threads);

}  // namespace moet::sweep
