#include "sweep/trial_launch.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "dist/launcher_env.h"

namespace moet::sweep {

namespace {

bool named(const std::string& entry, const std::string& name) {
  return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
         entry[name.size()] == '=';
}

// The first executable `program` in the directories of PATH; "" when there is none.
std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0)
      return std::filesystem::absolute(candidate).lexically_normal().string();
    start = end + 1;
  }
  return "";
}

}  // namespace

std::optional<Launcher> launcher_named(const std::string& name) {
  if (name == "mpirun") return Launcher::mpirun;
  if (name == "srun") return Launcher::srun;
  return std::nullopt;
}

const char* name_of(Launcher launcher) { return launcher == Launcher::srun ? "srun" : "mpirun"; }

TrialLaunch find_trial_launch(int ranks, Launcher launcher) {
  TrialLaunch launch{ranks, launcher, ""};
  if (ranks == 1) return launch;
  launch.launcher_path = on_path(name_of(launcher));
  if (launch.launcher_path.empty())
    fail("ranks = {}: trials of several ranks start under {}, which is not on PATH{}", ranks,
         name_of(launcher),
         launcher == Launcher::mpirun ? " (Debian: apt-get install openmpi-bin)" : "");
  return launch;
}

std::vector<std::string> launch_argv(const TrialLaunch& launch, const std::string& moet_binary,
                                     const std::vector<std::string>& train_args, int threads) {
  std::vector<std::string> argv;
  const std::string ranks = std::to_string(launch.ranks);
  if (launch.ranks > 1 && launch.launcher == Launcher::mpirun) {
    argv = {launch.launcher_path, "-np", ranks, "--oversubscribe", "--bind-to", "none", "-q"};
    if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  } else if (launch.ranks > 1) {
    argv = {launch.launcher_path, "--mpi=pmix", "--kill-on-bad-exit=1", "--ntasks=" + ranks,
            "--cpus-per-task=" + std::to_string(threads)};
  }
  argv.push_back(moet_binary);
  argv.insert(argv.end(), train_args.begin(), train_args.end());
  return argv;
}

std::vector<std::string> trial_environment(const std::vector<std::string>& inherited,
                                           const TrialLaunch& launch, int threads) {
  std::vector<std::string> env;
  bool single_copy_chosen = false;
  for (const std::string& entry : dist::without_launcher_variables(inherited)) {
    if (named(entry, "OMP_NUM_THREADS") || named(entry, "MOET_FAULT")) continue;
    single_copy_chosen |= named(entry, "OMPI_MCA_btl_vader_single_copy_mechanism");
    env.push_back(entry);
  }
  // The trial's OpenMP (and oneDNN's) thread count, also for anything read before the config.
  env.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  if (launch.ranks > 1 && launch.launcher == Launcher::mpirun && !single_copy_chosen)
    env.push_back("OMPI_MCA_btl_vader_single_copy_mechanism=none");
  return env;
}

}  // namespace moet::sweep
