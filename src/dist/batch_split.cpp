#include "dist/batch_split.h"

#include "core/error.h"

namespace moet::dist {

RowRange batch_rows(int64_t batch, int rank, int ranks) {
  MOET_CHECK(ranks >= 1 && rank >= 0 && rank < ranks);
  if (batch < 1 || batch % ranks != 0)
    fail("train.batch = {} does not split over {} data-parallel ranks: it must be a positive "
         "multiple of the rank count",
         batch, ranks);
  const int64_t share = batch / ranks;
  return {rank * share, share};
}

}  // namespace moet::dist
