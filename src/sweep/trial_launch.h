// How a trial's process starts. A trial of one rank is `moet train` itself; a trial of R > 1
// ranks (the spec's `ranks`) trains data parallel behind a launcher, its ranks forming one MPI
// world:
//
//   mpirun -np R --oversubscribe --bind-to none -q [--allow-run-as-root] moet train ...
//       on this machine (a local sweep, `moet sweep --trial` by hand). The sweep counts the
//       cores itself (resources.h), so mpirun neither counts slots nor binds: trials running
//       side by side would otherwise be bound to the same first cores.
//   srun --mpi=pmix --kill-on-bad-exit=1 --ntasks=R --cpus-per-task=T moet train ...
//       inside a Slurm job (the array tasks of --emit-slurm), on the cores Slurm allocated.
//
// A failing rank fails the trial: mpirun and srun (--kill-on-bad-exit) end the others and exit
// non-zero, and the trial is recorded as failed with the last line of its log.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace moet::sweep {

enum class Launcher { mpirun, srun };
std::optional<Launcher> launcher_named(const std::string& name);  // "mpirun", "srun"
const char* name_of(Launcher launcher);

struct TrialLaunch {
  int ranks = 1;
  Launcher launcher = Launcher::mpirun;
  std::string launcher_path;  // absolute; empty when ranks = 1
};

// The launcher's path on PATH when ranks > 1; throws Error (one line) when it is not there.
TrialLaunch find_trial_launch(int ranks, Launcher launcher);

// The argv of a trial's process (argv[0] is the program to execute): the binary with train_args,
// behind the launcher when the trial has several ranks.
std::vector<std::string> launch_argv(const TrialLaunch& launch, const std::string& moet_binary,
                                     const std::vector<std::string>& train_args, int threads);

// "NAME=value" entries for a trial's process from the sweep's own: threads per rank set, the
// sweep's fault plan and its launcher's variables dropped (a trial is not one of the sweep's
// ranks: dist/launcher_env.h), and for mpirun no cross-memory attach unless the caller chose
// (it needs ptrace rights that containers often lack).
std::vector<std::string> trial_environment(const std::vector<std::string>& inherited,
                                           const TrialLaunch& launch, int threads);

}  // namespace moet::sweep
