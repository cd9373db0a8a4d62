#include "dist/launch.h"

#include <cstdlib>

#include "core/error.h"
#include "dist/mpi_world.h"

namespace moet::dist {

namespace {

// Every variable detect_launch reads.
constexpr std::string_view kLaunchVariables[] = {
    "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",           "PMI_RANK", "PMI_SIZE",
    "SLURM_STEP_ID",        "SLURM_STEP_NUM_TASKS"};

bool is_set(const EnvLookup& env, const char* name) {
  const char* value = env(name);
  return value && *value;
}

}  // namespace

Launch detect_launch(const EnvLookup& env) {
  if (is_set(env, "OMPI_COMM_WORLD_SIZE")) return {true, "OMPI_COMM_WORLD_SIZE"};
  if (is_set(env, "PMIX_RANK")) return {true, "PMIX_RANK"};
  if (is_set(env, "PMI_RANK") && is_set(env, "PMI_SIZE")) return {true, "PMI_RANK/PMI_SIZE"};
  if (is_set(env, "SLURM_STEP_ID") && is_set(env, "SLURM_STEP_NUM_TASKS")) {
    const std::string tasks = env("SLURM_STEP_NUM_TASKS");
    if (tasks != "1")
      fail("environment: an srun step of {} tasks (SLURM_STEP_NUM_TASKS) but no PMI variables "
           "(PMIX_RANK, PMI_RANK): run srun --mpi=pmix so the tasks form one MPI world",
           escaped_excerpt(tasks));
  }
  return {};
}

bool is_launch_variable(std::string_view env_entry) {
  const std::string_view name = env_entry.substr(0, env_entry.find('='));
  for (const std::string_view v : kLaunchVariables)
    if (name == v) return true;
  return false;
}

Launch detect_launch() {
  return detect_launch([](const char* name) { return std::getenv(name); });
}

std::unique_ptr<World> make_world() {
  const Launch launch = detect_launch();
  if (!launch.mpi) return std::make_unique<SingleWorld>();
  return std::make_unique<MpiWorld>(launch.source);
}

}  // namespace moet::dist
