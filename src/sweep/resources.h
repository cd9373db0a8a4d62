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

#include "dist/launcher_env.h"

namespace moet::sweep {

// This process's share of a sweep under mpirun or as a task of an srun step: its place among
// the processes the launcher started (dist/launcher_env.h). The sweep's ranks share out
// independent trials and never form an MPI world; rank 0 of 1 when alone.
using RankInfo = dist::LaunchedRank;
RankInfo rank_from_env();

// CPUs this process may run on (its affinity mask); under MPI without binding, the host's CPUs
// divided among its local ranks.
int available_cores(const RankInfo& rank);

struct WorkerPlan {
  int workers = 1;
  int ranks = 1;    // data-parallel ranks of every trial: each takes ranks x threads cores
  int threads = 1;  // train.threads of every trial (of every rank)
  int cores = 1;
  std::string why;  // how the numbers were chosen, for the sweep's header line
};

// workers_opt / threads_opt: the --workers / --threads options (0: not given); spec_threads:
// train.threads in the spec's [config] (0: not given); trials: how many this process will run;
// ranks: the spec's ranks per trial. Throws Error when the numbers oversubscribe the cores.
WorkerPlan plan_workers(int cores, int64_t trials, int workers_opt, int threads_opt,
                        int64_t spec_threads, int ranks = 1);

}  // namespace moet::sweep
