#include "dist/world.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace moet::dist {

namespace {

bool overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const auto* p = static_cast<const std::byte*>(a);
  const auto* q = static_cast<const std::byte*>(b);
  return a_bytes > 0 && b_bytes > 0 && p < q + b_bytes && q < p + a_bytes;
}

int64_t sum(std::span<const int64_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0});
}

}  // namespace

const char* call_kind_name(CallKind kind) {
  static const char* const names[kCallKinds] = {"allreduce",  "reduce_scatter", "all_gather",
                                                "all_to_all", "broadcast",      "barrier"};
  return names[size_t(kind)];
}

int64_t Traffic::total_bytes() const {
  return std::accumulate(bytes_sent.begin(), bytes_sent.end(), int64_t{0});
}

void World::count(CallKind kind, int64_t bytes) {
  ++traffic_.calls[size_t(kind)];
  traffic_.bytes_sent[size_t(kind)] += bytes;
}

// A ring allreduce is a reduce-scatter then an all-gather: 2 (R-1)/R of the buffer leaves each
// rank, the lower bound for any algorithm that spreads the work evenly.
void World::allreduce_sum(std::span<float> data) {
  count(CallKind::allreduce, 2 * int64_t(size() - 1) * int64_t(data.size_bytes()) / size());
  do_allreduce_sum(data);
}

void World::allreduce_sum(std::span<double> data) {
  count(CallKind::allreduce, 2 * int64_t(size() - 1) * int64_t(data.size_bytes()) / size());
  do_allreduce_sum(data);
}

// Each rank's contribution to the other R - 1 blocks must leave it.
void World::reduce_scatter_sum(std::span<const float> in, std::span<float> out) {
  MOET_CHECK(in.size() == size_t(size()) * out.size());
  MOET_CHECK(!overlap(in.data(), in.size_bytes(), out.data(), out.size_bytes()));
  count(CallKind::reduce_scatter, int64_t(size() - 1) * int64_t(out.size_bytes()));
  do_reduce_scatter_sum(in, out);
}

void World::all_gather_bytes(std::span<const std::byte> mine, std::span<std::byte> all) {
  MOET_CHECK(all.size() == size_t(size()) * mine.size());
  const bool in_place = mine.data() == all.data() + size_t(rank()) * mine.size();
  MOET_CHECK(in_place || !overlap(mine.data(), mine.size(), all.data(), all.size()));
  count(CallKind::all_gather, int64_t(size() - 1) * int64_t(mine.size()));
  do_all_gather(mine, all, in_place);
}

// What goes to other ranks leaves this one; what a rank sends itself is a local copy.
void World::all_to_all_v_bytes(std::span<const std::byte> send,
                               std::span<const int64_t> send_counts, std::span<std::byte> recv,
                               std::span<const int64_t> recv_counts, size_t element_bytes) {
  MOET_CHECK(send_counts.size() == size_t(size()) && recv_counts.size() == size_t(size()));
  MOET_CHECK(std::all_of(send_counts.begin(), send_counts.end(), [](int64_t c) { return c >= 0; }));
  MOET_CHECK(std::all_of(recv_counts.begin(), recv_counts.end(), [](int64_t c) { return c >= 0; }));
  MOET_CHECK(size_t(sum(send_counts)) * element_bytes == send.size());
  MOET_CHECK(size_t(sum(recv_counts)) * element_bytes == recv.size());
  MOET_CHECK(!overlap(send.data(), send.size(), recv.data(), recv.size()));
  std::vector<int64_t> send_bytes(send_counts.begin(), send_counts.end());
  std::vector<int64_t> recv_bytes(recv_counts.begin(), recv_counts.end());
  for (int64_t& b : send_bytes) b *= int64_t(element_bytes);
  for (int64_t& b : recv_bytes) b *= int64_t(element_bytes);
  count(CallKind::all_to_all, int64_t(send.size()) - send_bytes[size_t(rank())]);
  do_all_to_all_v(send, send_bytes, recv, recv_bytes);
}

// The root's data must leave it once (a pipelined chain or tree forwards the rest).
void World::broadcast_bytes(std::span<std::byte> data, int root) {
  MOET_CHECK(root >= 0 && root < size());
  count(CallKind::broadcast, size() > 1 && rank() == root ? int64_t(data.size()) : 0);
  do_broadcast(data, root);
}

void World::barrier() {
  count(CallKind::barrier, 0);
  do_barrier();
}

std::unique_ptr<World> World::split(int color) {
  MOET_CHECK(color >= 0);
  return do_split(color);
}

void World::abort(int exit_code) {
  std::fflush(nullptr);
  do_abort(exit_code);
  std::_Exit(exit_code);
}

void SingleWorld::do_reduce_scatter_sum(std::span<const float> in, std::span<float> out) {
  std::copy(in.begin(), in.end(), out.begin());
}

void SingleWorld::do_all_gather(std::span<const std::byte> mine, std::span<std::byte> all,
                                bool in_place) {
  if (!in_place && !mine.empty()) std::memcpy(all.data(), mine.data(), mine.size());
}

void SingleWorld::do_all_to_all_v(std::span<const std::byte> send, std::span<const int64_t>,
                                  std::span<std::byte> recv, std::span<const int64_t>) {
  if (!send.empty()) std::memcpy(recv.data(), send.data(), send.size());
}

}  // namespace moet::dist
