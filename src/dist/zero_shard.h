// ZeRO-1's partition of the flat parameter vector (parameters, gradients and optimizer moments
// share one layout, docs/design.md §2): rank r owns one contiguous slice and keeps Adam's moments
// and master weights for that slice only.
//
// Padding: the vector of n elements is treated as padded with zeros to R ceil(n/R), so every
// rank's slice has the same length ceil(n/R) (what MPI_Reduce_scatter_block and MPI_Allgather
// need) and the last ranks own fewer real elements, possibly none. llm.c instead requires each
// tensor's size to divide by R (else it falls back to no sharding); moet's flat vector has
// arbitrary length (route_bias is [M]), so we pad once, at the end, and every tensor keeps its
// offset. The gradient and parameter buffers are allocated at the padded length; the pad stays
// zero (its gradient is zero, so the optimizer leaves it zero).
#pragma once

#include <cstdint>
#include <vector>

namespace moet::dist {

struct Shard {
  int64_t begin = 0;   // offset of this rank's slice in the padded vector
  int64_t length = 0;  // ceil(n/R): the slice, padding included (the same on every rank)
  int64_t owned = 0;   // real elements in the slice: min(length, n - begin), at least 0
};

int64_t padded_length(int64_t n, int ranks);  // R ceil(n/R)
Shard zero1_shard(int64_t n, int rank, int ranks);

// The part of one tensor (layout offset, element count) that falls in a shard, for per-tensor
// optimizer settings: [begin, begin + count) in flat-vector coordinates.
struct TensorPiece {
  int tensor = 0;
  int64_t begin = 0, count = 0;
};
// Tensors in layout order as (offset, count) pairs; pieces in the same order, empty ones left out.
std::vector<TensorPiece> shard_pieces(const std::vector<std::pair<int64_t, int64_t>>& tensors,
                                      const Shard& shard);

}  // namespace moet::dist
