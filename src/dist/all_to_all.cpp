#include "dist/all_to_all.h"

#include <numeric>

#include "core/error.h"

namespace moet::dist {

std::vector<int64_t> exchange_counts(World& world, std::span<const int64_t> send_counts) {
  const size_t ranks = size_t(world.size());
  MOET_CHECK(send_counts.size() % ranks == 0);
  const int64_t k = int64_t(send_counts.size() / ranks);
  const std::vector<int64_t> per_peer(ranks, k);
  std::vector<int64_t> recv_counts(send_counts.size());
  world.all_to_all_v(send_counts, std::span<const int64_t>(per_peer), std::span(recv_counts),
                     std::span<const int64_t>(per_peer));
  return recv_counts;
}

std::vector<int64_t> per_rank_totals(std::span<const int64_t> counts, int ranks) {
  MOET_CHECK(ranks >= 1 && counts.size() % size_t(ranks) == 0);
  const size_t k = counts.size() / size_t(ranks);
  std::vector<int64_t> totals(static_cast<size_t>(ranks));
  for (size_t r = 0; r < totals.size(); ++r)
    totals[r] = std::accumulate(counts.begin() + r * k, counts.begin() + (r + 1) * k, int64_t{0});
  return totals;
}

}  // namespace moet::dist
