#include "sweep/slurm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "sweep/spec.h"

namespace moet::sweep {

namespace {

// One word for sbatch's #SBATCH parser: inside double quotes only '\' and '"' are special, and a
// backslash escapes them.
std::string sbatch_word(const std::string& value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A literal directory inside a Slurm file name pattern (--output), where "%%" is a '%'.
std::string pattern_literal(const std::string& dir) {
  std::string out;
  for (const char c : dir) out += c == '%' ? std::string("%%") : std::string(1, c);
  return out;
}

void check_path(const char* what, const std::string& path) {
  if (std::any_of(path.begin(), path.end(), [](char c) { return std::iscntrl((unsigned char)c); }))
    fail("--emit-slurm: the {} {:?} holds a control character, which a batch script cannot carry",
         what, path);
}

}  // namespace

std::string slurm_job_name(const std::string& text) {
  std::string name;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')
      name += c;
    else if (!name.empty() && name.back() != '-')
      name += '-';
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name.empty() ? "moet" : name;
}

std::string slurm_array_script(const SlurmJob& job) {
  check_path("moet binary", job.moet_binary);
  check_path("spec", job.spec_path);
  check_path("database", job.db_path);
  check_path("working directory", job.workdir);
  const std::string log_dir = std::filesystem::path(job.db_path).parent_path().string();
  // Slurm drops every replacement (%A, %a) from a log name holding a backslash, and the task
  // then fails to start (seen with slurmd 22.05).
  if (log_dir.find('\\') != std::string::npos)
    fail("--emit-slurm: the database's directory {:?} holds a backslash, with which Slurm cannot "
         "name the task logs; put the database elsewhere",
         log_dir);
  const std::string name = slurm_job_name(job.name);
  std::vector<std::string> argv = {job.moet_binary,
                                   "sweep",
                                   job.spec_path,
                                   "--db",
                                   job.db_path,
                                   "--threads",
                                   std::to_string(job.threads)};
  if (job.ranks > 1) argv.insert(argv.end(), {"--launch", "srun"});
  const std::string command = shell_quote(argv);
  // Written only for trials of several ranks, so a one-rank script stays as it was.
  const std::string ranks_note =
      job.ranks > 1 ? fmt::format("# Each trial trains on {} ranks: `moet sweep --trial` starts "
                                  "them as srun --mpi=pmix --kill-on-bad-exit=1\n# --ntasks={} "
                                  "--cpus-per-task={} moet train ... (a failing rank fails the "
                                  "trial).\n",
                                  job.ranks, job.ranks, job.threads)
                    : "";
  return fmt::format(
      R"(#!/bin/bash
# {name}: a moet sweep as a Slurm job array, one trial per array task.
# Written by `moet sweep --emit-slurm`. Submit with:   sbatch {script_hint}
# Each task trains one trial and records it in {db}.
# Resubmitting redoes only unfinished trials; `moet report {db} --out DIR` reads the results.
{ranks_note}#SBATCH --job-name={sbatch_name}
#SBATCH --array=0-{last}
#SBATCH --cpus-per-task={threads}
#SBATCH --ntasks={ranks}
#SBATCH --output={output}
# Add your site's settings here, e.g.:
##SBATCH --partition=cpu
##SBATCH --time=01:00:00
##SBATCH --array=0-{last}%16    (at most 16 tasks at once)
set -euo pipefail
cd {workdir}
export OMP_NUM_THREADS={threads}
exec {command} --trial "$SLURM_ARRAY_TASK_ID"
)",
      fmt::arg("name", name), fmt::arg("sbatch_name", sbatch_word(name)),
      fmt::arg("script_hint", "<this file>"), fmt::arg("db", shell_quote({job.db_path})),
      fmt::arg("last", job.trials - 1), fmt::arg("threads", job.threads),
      fmt::arg("output", sbatch_word(pattern_literal(log_dir) + "/slurm-%A_%a.out")),
      fmt::arg("workdir", shell_quote({job.workdir})), fmt::arg("command", command),
      fmt::arg("ranks_note", ranks_note), fmt::arg("ranks", job.ranks));
}

}  // namespace moet::sweep
