// When to fork OpenMP threads for an elementwise or row-wise kernel: only when the work is big
// enough to pay for the fork (~1-2 us), and never inside an enclosing parallel region.
#pragma once

#include <omp.h>

#include <cstdint>

namespace moet {

inline bool worth_parallel(int64_t work) { return work >= (1 << 14) && !omp_in_parallel(); }

}  // namespace moet
