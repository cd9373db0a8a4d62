#include "dist/launcher_env.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace moet::dist {

namespace {

// Every variable detect_launch and launched_rank read, and nothing else.
constexpr std::string_view kLauncherVariables[] = {"OMPI_COMM_WORLD_RANK",
                                                   "OMPI_COMM_WORLD_SIZE",
                                                   "OMPI_COMM_WORLD_LOCAL_SIZE",
                                                   "PMIX_RANK",
                                                   "PMI_RANK",
                                                   "PMI_SIZE",
                                                   "MPI_LOCALNRANKS",
                                                   "SLURM_PROCID",
                                                   "SLURM_STEP_ID",
                                                   "SLURM_STEP_NUM_TASKS",
                                                   "SLURM_STEP_TASKS_PER_NODE",
                                                   "SLURM_NODEID"};

const char* lookup(const EnvLookup& env, std::string_view name) {
  const char* value = env(std::string(name).c_str());
  MOET_CHECK(std::find(std::begin(kLauncherVariables), std::end(kLauncherVariables), name) !=
             std::end(kLauncherVariables));
  return value;
}

bool is_set(const EnvLookup& env, std::string_view name) {
  const char* value = lookup(env, name);
  return value && *value;
}

int env_int(const EnvLookup& env, std::string_view name, int fallback) {
  const char* text = lookup(env, name);
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
int slurm_step_local_tasks(const EnvLookup& env) {
  const char* text = lookup(env, "SLURM_STEP_TASKS_PER_NODE");
  if (!text || !*text) return 1;
  const int node = env_int(env, "SLURM_NODEID", 0);
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

const char* from_process(const char* name) { return std::getenv(name); }

}  // namespace

Launch detect_launch(const EnvLookup& env) {
  if (is_set(env, "OMPI_COMM_WORLD_SIZE")) return {true, "OMPI_COMM_WORLD_SIZE"};
  if (is_set(env, "PMIX_RANK")) return {true, "PMIX_RANK"};
  if (is_set(env, "PMI_RANK") && is_set(env, "PMI_SIZE")) return {true, "PMI_RANK/PMI_SIZE"};
  if (is_set(env, "SLURM_STEP_ID") && is_set(env, "SLURM_STEP_NUM_TASKS")) {
    const std::string tasks = lookup(env, "SLURM_STEP_NUM_TASKS");
    if (tasks != "1")
      fail("environment: an srun step of {} tasks (SLURM_STEP_NUM_TASKS) but no PMI variables "
           "(PMIX_RANK, PMI_RANK): run srun --mpi=pmix so the tasks form one MPI world",
           escaped_excerpt(tasks));
  }
  return {};
}

Launch detect_launch() { return detect_launch(from_process); }

LaunchedRank launched_rank(const EnvLookup& env) {
  LaunchedRank info;
  // srun without --mpi=pmi2 sets no PMI variables, only Slurm's; SLURM_STEP_NUM_TASKS tells a
  // task of an srun step from a batch script, which has a SLURM_PROCID of 0 too.
  const struct {
    const char *rank, *size, *local_size;  // local_size nullptr: slurm_step_local_tasks()
  } sources[] = {{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE"},
                 {"PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"},
                 {"SLURM_PROCID", "SLURM_STEP_NUM_TASKS", nullptr}};
  for (const auto& s : sources) {
    if (!lookup(env, s.rank) || !lookup(env, s.size)) continue;
    info.rank = env_int(env, s.rank, 0);
    info.size = env_int(env, s.size, 1);
    info.local_size =
        std::max(1, s.local_size ? env_int(env, s.local_size, 1) : slurm_step_local_tasks(env));
    info.source = std::string(s.rank) + "/" + s.size;
    if (info.size < 1 || info.rank >= info.size)
      fail("environment {}: rank {} of {} is not a valid MPI rank", info.source, info.rank,
           info.size);
    break;
  }
  return info;
}

LaunchedRank launched_rank() { return launched_rank(from_process); }

bool is_launcher_variable(std::string_view name) {
  return std::find(std::begin(kLauncherVariables), std::end(kLauncherVariables), name) !=
         std::end(kLauncherVariables);
}

std::vector<std::string> without_launcher_variables(const std::vector<std::string>& entries) {
  std::vector<std::string> kept;
  for (const std::string& entry : entries)
    if (!is_launcher_variable(std::string_view(entry).substr(0, entry.find('='))))
      kept.push_back(entry);
  return kept;
}

}  // namespace moet::dist
