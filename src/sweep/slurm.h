// `moet sweep --emit-slurm`: the sweep as a Slurm job array, one trial per array task.
//
// Each task runs `moet sweep SPEC --db DB --trial $SLURM_ARRAY_TASK_ID`, which trains that one
// trial (of several ranks: `--launch srun`, so the trial's `srun --mpi=pmix` starts one rank on
// each of the job's --ntasks) and records it in the same database as a local sweep would, so `moet
// report` reads a cluster sweep exactly like a local one. Paths are absolute: tasks start wherever
// Slurm puts them. Tasks of finished trials exit at once, so resubmitting the script redoes only
// the rest.
//
// The script is read by two parsers: sbatch reads the #SBATCH lines (its own word splitting,
// where an unquoted space ends a value and an unquoted '#' starts a comment; then Slurm's file
// name patterns, where '%' is special), bash reads the rest. Every value is quoted for the parser
// that reads it; what neither can carry is refused with one line.
#pragma once

#include <cstdint>
#include <string>

namespace moet::sweep {

struct SlurmJob {
  std::string name;         // --job-name, before slurm_job_name()
  std::string moet_binary;  // absolute
  std::string spec_path;    // absolute
  std::string db_path;      // absolute; the task logs go next to it
  std::string workdir;      // absolute: where relative paths in the spec (data.train, ...) resolve
  int64_t trials = 0;       // array indices 0 .. trials-1
  int64_t threads = 1;      // --cpus-per-task and train.threads
  int64_t ranks = 1;        // --ntasks: the spec's ranks per trial, started by srun
};

// Throws Error when a path holds what the script cannot carry.
std::string slurm_array_script(const SlurmJob& job);

// A job name that squeue shows and `scancel --name` takes as one word: letters, digits, '.', '_'
// and '-', every other run of characters one '-' ("paper 1: width (N, Ne) x8" ->
// "paper-1-width-N-Ne-x8").
std::string slurm_job_name(const std::string& text);

}  // namespace moet::sweep
