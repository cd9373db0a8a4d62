#include "sweep/resources.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace moet::sweep {

namespace {

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0)
    fail("environment {}='{}': expected a non-negative integer", name, text);
  return int(value);
}

// The tasks of a Slurm step on this node: SLURM_STEP_TASKS_PER_NODE lists them per node of the
// step ("2(x3),1": two on each of the first three nodes, one on the fourth), SLURM_NODEID is
// this node's place in that list.
int slurm_step_local_tasks() {
  const char* text = std::getenv("SLURM_STEP_TASKS_PER_NODE");
  if (!text || !*text) return 1;
  const int node = env_int("SLURM_NODEID", 0);
  int first = 0;  // the step's index of the first node of the current entry
  for (const char* at = text; *at;) {
    char* end = nullptr;
    const long tasks = std::strtol(at, &end, 10);
    long repeat = 1;
    if (end != at && std::strncmp(end, "(x", 2) == 0) {
      const char* count = end + 2;
      repeat = std::strtol(count, &end, 10);
      if (end == count || *end != ')') break;
      ++end;
    }
    if (end == at || tasks < 1 || repeat < 1 || (*end != ',' && *end != '\0')) break;
    if (node < first + repeat) return int(tasks);
    first += int(repeat);
    at = *end == ',' ? end + 1 : end;
  }
  fail("environment SLURM_STEP_TASKS_PER_NODE='{}' with SLURM_NODEID={}: expected task counts "
       "like 2(x3),1 covering this node",
       text, node);
}

}  // namespace

RankInfo rank_from_env() {
  RankInfo info;
  // srun without --mpi=pmi2 sets no PMI variables, only Slurm's; SLURM_STEP_NUM_TASKS tells a
  // task of an srun step from a batch script, which has a SLURM_PROCID of 0 too.
  const struct {
    const char *rank, *size, *local_size;  // local_size nullptr: slurm_step_local_tasks()
  } sources[] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"},
                 {"PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"},
                 {"SLURM_PROCID", "SLURM_STEP_NUM_TASKS", nullptr}};
  for (const auto& s : sources) {
    if (!std::getenv(s.rank) || !std::getenv(s.size)) continue;
    info.rank = env_int(s.rank, 0);
    info.size = env_int(s.size, 1);
    info.local_size =
        std::max(1, s.local_size ? env_int(s.local_size, 1) : slurm_step_local_tasks());
    info.source = std::string(s.rank) + "/" + s.size;
    if (info.size < 1 || info.rank >= info.size)
      fail("environment {}: rank {} of {} is not a valid MPI rank", info.source, info.rank,
           info.size);
    break;
  }
  return info;
}

int available_cores(const RankInfo& rank) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  const int online = int(sysconf(_SC_NPROCESSORS_ONLN));
  if (cores <= 0) cores = std::max(1, online);
  // Ranks that mpirun did not bind all see the whole host: share it out.
  if (rank.local_size > 1 && cores == online) cores = std::max(1, cores / rank.local_size);
  return cores;
}

WorkerPlan plan_workers(int cores, int64_t trials, int workers_opt, int threads_opt,
                        int64_t spec_threads) {
  WorkerPlan plan;
  plan.cores = cores;
  const int threads = threads_opt > 0 ? threads_opt : int(spec_threads);
  const char* threads_from = threads_opt > 0 ? "--threads" : "train.threads in the spec";
  if (workers_opt < 0 || threads_opt < 0) fail("--workers and --threads must be positive");
  if (threads > cores)
    fail("{} {}: more threads than the {} cores available", threads_from, threads, cores);
  if (workers_opt > 0 && threads > 0) {
    if (int64_t(workers_opt) * threads > cores)
      fail("--workers {} x {} threads = {} exceeds the {} cores available", workers_opt, threads,
           workers_opt * threads, cores);
    plan.workers = workers_opt, plan.threads = threads;
    plan.why = "as given";
  } else if (workers_opt > 0) {
    if (workers_opt > cores)
      fail("--workers {}: more workers than the {} cores available", workers_opt, cores);
    plan.workers = workers_opt, plan.threads = cores / workers_opt;
    plan.why = "threads = cores / workers";
  } else if (threads > 0) {
    plan.threads = threads, plan.workers = cores / threads;
    plan.why = "workers = cores / threads";
  } else {
    const int64_t busy = std::clamp<int64_t>(trials, 1, cores);
    plan.workers = int(busy), plan.threads = cores / int(busy);
    plan.why = plan.threads == 1 ? "one thread per trial, one trial per core"
                                 : "fewer trials than cores: spare cores become threads";
  }
  return plan;
}

}  // namespace moet::sweep
