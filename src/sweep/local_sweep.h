// A whole sweep on this machine (or this MPI rank's share of it): open the database, register
// the spec's trials, skip the finished ones, run the rest with the local runner, and say what
// happened. `moet sweep` and `moet demo` both go through here.
#pragma once

#include <cstdio>
#include <string>

#include "sweep/resources.h"
#include "sweep/runner.h"
#include "sweep/spec.h"

namespace moet::sweep {

struct LocalSweepOptions {
  int workers = 0;  // 0: the default rule (resources.h)
  int threads = 0;
  bool progress = true;  // one line per finished trial on stdout
};

struct LocalSweepResult {
  int64_t trials = 0;           // in the spec
  int64_t finished_before = 0;  // skipped: already recorded as done or diverged
  int64_t ran = 0;              // given to the runner by this process
  WorkerPlan plan;
  RankInfo rank;
  RunSummary summary;
};

// plan_workers for the spec's threads and ranks; its errors name the spec.
WorkerPlan plan_sweep_workers(const SweepSpec& spec, int cores, int64_t trials, int workers,
                              int threads);

LocalSweepResult run_local_sweep(const SweepSpec& spec, const Expansion& expansion,
                                 const std::string& db_path, const LocalSweepOptions& options);

// "2 presets x 1 ladder x 3 scales x 7 LRs x 1 seed = 42 trials" (scales and LRs summed over
// ladders and presets when they differ).
std::string describe_sweep(const SweepSpec& spec, const Expansion& expansion);

}  // namespace moet::sweep
