// The exit statuses of `moet` and of the trial processes a sweep starts, in one place: the sweep
// runner reads a trial's status by these same numbers.
#pragma once

namespace moet {

enum ExitCode : int {
  kExitOk = 0,
  kExitTrialFailed = 1,    // moet sweep / demo: some trial failed (its error is in the database)
  kExitBadInput = 2,       // one line on stderr names what is wrong
  kExitDiverged = 3,       // moet train: the run diverged (status.json says so too)
  kExitCannotExec = 127,   // a trial process that could not start moet (the shell's convention)
  kExitInterrupted = 130,  // stopped by SIGINT/SIGTERM (128 + SIGINT, the shell's convention)
};

}  // namespace moet
