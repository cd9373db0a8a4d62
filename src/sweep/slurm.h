// `moet sweep --emit-slurm`: the sweep as a Slurm job array, one trial per array task.
//
// Each task runs `moet sweep SPEC --db DB --trial $SLURM_ARRAY_TASK_ID`, which trains that one
// trial and records it in the same database as a local sweep would, so `moet report` reads a
// cluster sweep exactly like a local one. Paths are absolute: tasks start wherever Slurm puts
// them. Tasks of finished trials exit at once, so resubmitting the script redoes only the rest.
#pragma once

#include <cstdint>
#include <string>

namespace moet::sweep {

struct SlurmJob {
  std::string name;         // --job-name
  std::string moet_binary;  // absolute
  std::string spec_path;    // absolute
  std::string db_path;      // absolute
  std::string workdir;      // absolute: where relative paths in the spec (data.train, ...) resolve
  int64_t trials = 0;       // array indices 0 .. trials-1
  int64_t threads = 1;      // --cpus-per-task and train.threads
};

std::string slurm_array_script(const SlurmJob& job);

}  // namespace moet::sweep
