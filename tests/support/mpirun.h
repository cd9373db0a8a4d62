// Starting a program under the real mpirun (Debian's Open MPI) from tests, as every multi-rank
// test does: one thread per rank; as root in a container, no cross-memory attach (it needs
// ptrace rights containers often lack) and no core binding (the cores are shared with other
// jobs). No leak check in the ranks of a sanitizer build (./moet.sh sanitize; ignored
// otherwise): Open MPI leaves its components' allocations at MPI_Finalize and unloads them, so
// LeakSanitizer reports them from an unknown module, which no suppression can name; address and
// UB checks stay on.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "run_binary.h"

namespace moet::testing {

inline constexpr const char* kRanksWithoutLeakCheck = "ASAN_OPTIONS=detect_leaks=0";

inline const std::vector<std::string> kMpirunEnv = {
    "OMP_NUM_THREADS=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none",
    "OMPI_MCA_hwloc_base_binding_policy=none", kRanksWithoutLeakCheck};

inline bool have_mpirun() { return std::filesystem::exists("/usr/bin/mpirun"); }

// mpirun --allow-run-as-root --oversubscribe <args>, in dir; seconds: how long it took.
inline ProcessResult mpirun(const std::vector<std::string>& args, const std::string& dir,
                            double* seconds = nullptr) {
  std::vector<std::string> all = {"--allow-run-as-root", "--oversubscribe"};
  all.insert(all.end(), args.begin(), args.end());
  const auto start = std::chrono::steady_clock::now();
  ProcessResult r = run_process("/usr/bin/mpirun", all, dir, 60, 0, kMpirunEnv);
  if (seconds)
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace moet::testing
