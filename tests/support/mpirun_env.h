// The environment every test that starts Debian's mpirun gives its ranks.
//
// One thread per rank; as root in a container: no cross-memory attach (needs ptrace rights
// containers often lack) and no binding (the cores are shared with other jobs). No leak check
// in the ranks of a sanitizer build (./moet.sh sanitize; ignored otherwise): Open MPI leaves
// its components' allocations at MPI_Finalize and unloads them, so LeakSanitizer reports them
// from an unknown module, which no suppression can name; address and UB checks stay on.
#pragma once

#include <string>
#include <vector>

namespace moet::testing {

inline const std::vector<std::string> kMpirunEnv = {
    "OMP_NUM_THREADS=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none",
    "OMPI_MCA_hwloc_base_binding_policy=none", "ASAN_OPTIONS=detect_leaks=0"};

}  // namespace moet::testing
