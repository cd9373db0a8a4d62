#include "sweep/slurm.h"

#include <fmt/format.h>

#include <filesystem>

#include "sweep/spec.h"

namespace moet::sweep {

std::string slurm_array_script(const SlurmJob& job) {
  const std::string log_dir = std::filesystem::path(job.db_path).parent_path().string();
  const std::string command = shell_quote(
      {job.moet_binary, "sweep", job.spec_path, "--db", job.db_path, "--threads",
       std::to_string(job.threads)});
  return fmt::format(
      R"(#!/bin/bash
# {name}: a moet sweep as a Slurm job array, one trial per array task.
# Written by `moet sweep --emit-slurm`. Submit with:   sbatch {script_hint}
# Each task trains one trial and records it in {db}.
# Resubmitting redoes only unfinished trials; `moet report {db} --out DIR` reads the results.
#SBATCH --job-name={name}
#SBATCH --array=0-{last}
#SBATCH --cpus-per-task={threads}
#SBATCH --ntasks=1
#SBATCH --output={log_dir}/slurm-%A_%a.out
# Add your site's settings here, e.g.:
##SBATCH --partition=cpu
##SBATCH --time=01:00:00
##SBATCH --array=0-{last}%16    (at most 16 tasks at once)
set -euo pipefail
cd {workdir}
export OMP_NUM_THREADS={threads}
exec {command} --trial "$SLURM_ARRAY_TASK_ID"
)",
      fmt::arg("name", job.name), fmt::arg("script_hint", "<this file>"),
      fmt::arg("db", shell_quote({job.db_path})), fmt::arg("last", job.trials - 1),
      fmt::arg("threads", job.threads), fmt::arg("log_dir", log_dir),
      fmt::arg("workdir", shell_quote({job.workdir})), fmt::arg("command", command));
}

}  // namespace moet::sweep
