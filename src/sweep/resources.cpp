#include "sweep/resources.h"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace moet::sweep {

RankInfo rank_from_env() { return dist::launched_rank(); }

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
                        int64_t spec_threads, int ranks) {
  WorkerPlan plan;
  plan.cores = cores;
  plan.ranks = ranks;
  const int threads = threads_opt > 0 ? threads_opt : int(spec_threads);
  const char* threads_from = threads_opt > 0 ? "--threads" : "train.threads in the spec";
  if (workers_opt < 0 || threads_opt < 0) fail("--workers and --threads must be positive");
  if (ranks > cores)
    fail("ranks = {}: a trial needs a core per rank, more than the {} cores available", ranks,
         cores);
  // Cores left for each rank's threads once every trial has its ranks.
  const int per_rank = cores / ranks;
  const std::string of_ranks = ranks > 1 ? fmt::format(" x {} ranks", ranks) : "";
  if (threads > per_rank)
    fail("{} {}{}: more threads than the {} cores available", threads_from, threads, of_ranks,
         cores);
  if (workers_opt > 0 && threads > 0) {
    if (int64_t(workers_opt) * ranks * threads > cores)
      fail("--workers {}{} x {} threads = {} exceeds the {} cores available", workers_opt, of_ranks,
           threads, int64_t(workers_opt) * ranks * threads, cores);
    plan.workers = workers_opt, plan.threads = threads;
    plan.why = "as given";
  } else if (workers_opt > 0) {
    if (workers_opt > per_rank)
      fail("--workers {}{}: more workers than the {} cores available", workers_opt, of_ranks,
           cores);
    plan.workers = workers_opt, plan.threads = per_rank / workers_opt;
    plan.why = ranks > 1 ? "threads = cores / (workers x ranks)" : "threads = cores / workers";
  } else if (threads > 0) {
    plan.threads = threads, plan.workers = per_rank / threads;
    plan.why = ranks > 1 ? "workers = cores / (ranks x threads)" : "workers = cores / threads";
  } else {
    const int64_t busy = std::clamp<int64_t>(trials, 1, per_rank);
    plan.workers = int(busy), plan.threads = per_rank / int(busy);
    plan.why = plan.threads == 1 ? (ranks > 1 ? "one thread per rank, one rank per core"
                                              : "one thread per trial, one trial per core")
                                 : "fewer trials than cores: spare cores become threads";
  }
  return plan;
}

}  // namespace moet::sweep
