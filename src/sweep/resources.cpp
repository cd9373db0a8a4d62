#include "sweep/resources.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace moet::sweep {

namespace {

int env_int(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0) fail("environment {}='{}': expected a non-negative integer", name, text);
  return int(value);
}

}  // namespace

RankInfo rank_from_env() {
  RankInfo info;
  const struct {
    const char *rank, *size, *local_size;
  } sources[] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"},
                 {"PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"}};
  for (const auto& s : sources) {
    if (!std::getenv(s.rank) || !std::getenv(s.size)) continue;
    info.rank = env_int(s.rank, 0);
    info.size = env_int(s.size, 1);
    info.local_size = std::max(1, env_int(s.local_size, 1));
    info.source = std::string(s.rank) + "/" + s.size;
    if (info.size < 1 || info.rank >= info.size)
      fail("environment {}: rank {} of {} is not a valid MPI rank", info.source, info.rank, info.size);
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
