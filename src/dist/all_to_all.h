// The counts exchange in front of every all-to-all-v, as Megatron-Core's all-to-all token
// dispatcher does it: before tokens travel to the ranks that hold their experts, each rank must
// learn how many rows every other rank will send it, per local expert.
//
// Expert parallelism over E ranks with M/E experts each: a rank counts its routed rows per
// expert (M counts, expert e living on rank e / (M/E)), calls exchange_counts with those M
// counts, and gets back, for each source rank s and each of its own experts j, how many rows s
// sends for j ([s * M/E + j]). Summing per rank gives the all_to_all_v counts (times N floats a
// row) for the dispatch; the combine on the way back is the same call with send and receive
// counts swapped, and backward mirrors the two.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dist/world.h"

namespace moet::dist {

// send_counts holds R groups of k counts (group d: what this rank will send rank d); returns R
// groups of k (group s: what rank s will send this rank). k = send_counts.size() / R, the same
// on every rank. One all_to_all_v of k int64 per rank pair.
std::vector<int64_t> exchange_counts(World& world, std::span<const int64_t> send_counts);

// counts summed per group of k: the per-rank totals all_to_all_v takes.
std::vector<int64_t> per_rank_totals(std::span<const int64_t> counts, int ranks);

}  // namespace moet::dist
