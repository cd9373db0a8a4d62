#include "dist/zero_shard.h"

#include <algorithm>

#include "core/error.h"

namespace moet::dist {

int64_t padded_length(int64_t n, int ranks) {
  MOET_CHECK(n >= 0 && ranks >= 1);
  return (n + ranks - 1) / ranks * ranks;
}

Shard zero1_shard(int64_t n, int rank, int ranks) {
  MOET_CHECK(rank >= 0 && rank < ranks);
  Shard shard;
  shard.length = padded_length(n, ranks) / ranks;
  shard.begin = rank * shard.length;
  shard.owned = std::clamp<int64_t>(n - shard.begin, 0, shard.length);
  return shard;
}

std::vector<TensorPiece> shard_pieces(const std::vector<std::pair<int64_t, int64_t>>& tensors,
                                      const Shard& shard) {
  std::vector<TensorPiece> pieces;
  const int64_t end = shard.begin + shard.owned;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto [offset, count] = tensors[t];
    const int64_t first = std::max(offset, shard.begin), last = std::min(offset + count, end);
    if (first < last) pieces.push_back({int(t), first, last - first});
  }
  return pieces;
}

}  // namespace moet::dist
