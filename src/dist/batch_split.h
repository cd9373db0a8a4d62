// Data parallelism's batch split: train.batch stays the global batch and rank r of R takes the
// contiguous rows [r B/R, (r+1) B/R), so the ranks' rows in rank order are the single-process
// batch, row for row. Equal shares keep the global mean loss the mean of the ranks' means.
#pragma once

#include <cstdint>

namespace moet::dist {

struct RowRange {
  int64_t begin = 0, count = 0;
  int64_t end() const { return begin + count; }
};

// Throws Error naming train.batch when R does not divide it.
RowRange batch_rows(int64_t batch, int rank, int ranks);

}  // namespace moet::dist
