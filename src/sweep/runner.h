// The local runner: trains a list of trials as `moet train` (or [trainer]) child processes, a fixed
// number at a time, and records each result in the database the moment its process ends.
//
// Longest trials start first (by their FLOPs), so the last minutes of a sweep are not one big
// trial running alone. Children die with the sweep (PR_SET_PDEATHSIG): a killed sweep leaves no
// orphans training into directories nobody will read. A run directory that already holds the
// finished result of the same config is imported, not trained again; one holding an unfinished
// run is cleared and the trial starts over. Ctrl-C (SIGINT/SIGTERM) stops the sweep: running
// trials are stopped and go back to pending; everything finished stays recorded.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sweep/resources.h"
#include "sweep/results_store.h"
#include "sweep/spec.h"
#include "sweep/trial_launch.h"
#include "sweep/trial_outcome.h"

namespace moet::sweep {

struct TrialEvent {
  const Trial& trial;
  const TrialOutcome& outcome;
  bool imported;        // taken from its run directory, not trained now
  int finished, total;  // progress of this run
  double elapsed_s;
  double eta_s;  // NaN until something has finished
};

struct RunnerOptions {
  std::string moet_binary;  // the binary to run `train` with (this one: /proc/self/exe)
  TrainerCommand trainer;   // the spec's [trainer]; empty: trials run `moet train`
  WorkerPlan plan;
  TrialLaunch launch;                                  // plan.ranks > 1: how the ranks start
  std::function<void(const TrialEvent&)> on_finished;  // called after the result is recorded
};

struct RunSummary {
  int done = 0, diverged = 0, failed = 0, imported = 0;
  bool interrupted = false;
  double elapsed_s = 0;
};

RunSummary run_trials(ResultsStore& store, std::vector<const Trial*> trials,
                      const RunnerOptions& options);

// The path of the running binary, for child processes and emitted scripts.
std::string self_binary();

// One progress line: "[ 7/42  1m05s  eta 3m10s] done  sp width x2 lr 2^-7 seed 1  val 5.123".
std::string format_progress(const TrialEvent& event);

}  // namespace moet::sweep
