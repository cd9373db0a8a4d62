// Data parallelism's batch split and ZeRO-1's shard ranges: pure arithmetic, checked against
// the properties the trainer relies on (the rank-ordered union is the whole, in order; every
// shard has one length; padding only at the end).
#include <gtest/gtest.h>

#include "../support/error_of.h"
#include "dist/batch_split.h"
#include "dist/zero_shard.h"

namespace moet::dist {
namespace {

using testing::error_of;

TEST(BatchRows, RanksInOrderCoverTheBatchRowForRow) {
  for (int ranks : {1, 2, 3, 4, 8}) {
    const int64_t batch = 24;
    int64_t next = 0;
    for (int r = 0; r < ranks; ++r) {
      const RowRange rows = batch_rows(batch, r, ranks);
      EXPECT_EQ(rows.begin, next) << "rank " << r << " of " << ranks;
      EXPECT_EQ(rows.count, batch / ranks);
      next = rows.end();
    }
    EXPECT_EQ(next, batch);
  }
}

TEST(BatchRows, RefusesARankCountThatDoesNotDivideTheBatch) {
  EXPECT_EQ(error_of([] { batch_rows(6, 0, 4); }),
            "train.batch = 6 does not split over 4 data-parallel ranks: it must be a positive "
            "multiple of the rank count");
  EXPECT_NE(error_of([] { batch_rows(2, 0, 4); }), "");
}

TEST(Zero1Shard, EqualLengthsPaddingAtTheEnd) {
  // 1001 over 4: ceil = 251, the padded vector 1004; the last rank owns 248 real elements.
  EXPECT_EQ(padded_length(1001, 4), 1004);
  const Shard last = zero1_shard(1001, 3, 4);
  EXPECT_EQ(last.begin, 753);
  EXPECT_EQ(last.length, 251);
  EXPECT_EQ(last.owned, 248);
  for (int64_t n : {0, 1, 2, 7, 1000, 1001, 1003}) {
    for (int ranks : {1, 2, 3, 4}) {
      int64_t owned = 0;
      for (int r = 0; r < ranks; ++r) {
        const Shard s = zero1_shard(n, r, ranks);
        EXPECT_EQ(s.begin, r * s.length);
        EXPECT_EQ(s.length * ranks, padded_length(n, ranks));
        EXPECT_EQ(s.owned, std::max<int64_t>(0, std::min(n, s.begin + s.length) - s.begin));
        owned += s.owned;
      }
      EXPECT_EQ(owned, n) << "n = " << n << ", R = " << ranks;
      EXPECT_LT(padded_length(n, ranks) - n, ranks);
    }
  }
  // Fewer elements than ranks: the last ranks own nothing but hold a slice of padding.
  EXPECT_EQ(zero1_shard(2, 3, 4).owned, 0);
  EXPECT_EQ(zero1_shard(2, 3, 4).length, 1);
}

TEST(Zero1Shard, PiecesCutTensorsAtTheShardEdges) {
  // Three tensors of 5, 3 and 4 elements; 12 over 2 ranks: [0, 6) and [6, 12).
  const std::vector<std::pair<int64_t, int64_t>> tensors = {{0, 5}, {5, 3}, {8, 4}};
  const auto first = shard_pieces(tensors, zero1_shard(12, 0, 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].tensor, 0);
  EXPECT_EQ(first[0].begin, 0);
  EXPECT_EQ(first[0].count, 5);
  EXPECT_EQ(first[1].tensor, 1);
  EXPECT_EQ(first[1].begin, 5);
  EXPECT_EQ(first[1].count, 1);
  const auto second = shard_pieces(tensors, zero1_shard(12, 1, 2));
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].tensor, 1);
  EXPECT_EQ(second[0].begin, 6);
  EXPECT_EQ(second[0].count, 2);
  EXPECT_EQ(second[1].tensor, 2);
  EXPECT_EQ(second[1].count, 4);
  // 12 over 5 ranks: slices of 3, the last [12, 15) is all padding.
  EXPECT_TRUE(shard_pieces(tensors, zero1_shard(12, 4, 5)).empty());
}

}  // namespace
}  // namespace moet::dist
