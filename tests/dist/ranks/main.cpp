// dist_ranks: the program tests/dist/*_test.cpp start under mpirun. Every rank runs one scenario
// and checks each collective against a reference it computes alone, from the formula that
// generated every rank's data; any difference throws, which the guard turns into one line and
// an aborted world.
//
//   dist_ranks collectives   every collective, exact values, then one "traffic" line per kind
//   dist_ranks mismatch      rank 1 brings a different config: check_same fails on every rank
//   dist_ranks binary        check_same_binary (the test starts differing copies, MPMD)
//   dist_ranks throw         the last rank throws while the others wait in an allreduce
//   dist_ranks die           the last rank kills itself (SIGKILL) while the others wait
//   dist_ranks mpi-error     every rank makes an invalid MPI call: an Error, not MPI's abort
//   dist_ranks all-or-none   rank 1's step fails: every rank throws the same AgreedError
//   dist_ranks split         World::split into groups by rank parity and into single ranks
#include <mpi.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "dist/agree.h"
#include "dist/all_to_all.h"
#include "dist/guard.h"
#include "dist/launch.h"
#include "dist/mpi_world.h"
#include "dist/zero_shard.h"

namespace moet::dist {
namespace {

constexpr int64_t kLength = 1001;  // divisible by neither 2 nor 4: exercises ZeRO's padding

// Small integers: every partial sum is exact in float, so any reduction order gives these bits.
float exact_value(int rank, int64_t i) { return float((rank + 1) * 1000 + i % 977); }

// Rounding floats in [-1, 1): sums depend on the reduction order.
float rough_value(int rank, int64_t i) {
  uint64_t x = (uint64_t(rank) << 32 | uint64_t(i)) * 0x9e3779b97f4a7c15ull;
  x ^= x >> 29;
  return float(double(x >> 11) / double(1ull << 53) * 2 - 1);
}

void expect(bool ok, const std::string& what) {
  if (!ok) fail("{}: wrong result", what);
}

void exact_allreduce(World& world) {
  std::vector<float> data(kLength);
  for (int64_t i = 0; i < kLength; ++i) data[size_t(i)] = exact_value(world.rank(), i);
  world.allreduce_sum(std::span(data));
  for (int64_t i = 0; i < kLength; ++i) {
    float sum = 0;
    for (int r = 0; r < world.size(); ++r) sum += exact_value(r, i);
    expect(data[size_t(i)] == sum, fmt::format("allreduce_sum(float) element {}", i));
  }
  double pair[3] = {0.5 * (world.rank() + 1), -1.0, 1e300 / world.size()};
  world.allreduce_sum(std::span<double>(pair));
  const double ranks = world.size();
  expect(pair[0] == 0.25 * ranks * (ranks + 1) && pair[1] == -ranks, "allreduce_sum(double)");
  expect(std::abs(pair[2] - 1e300) <= 1e285, "allreduce_sum(double) of large values");
}

// Rounded sums differ from the exact one by reduction order, but every rank must hold the same
// bits (data parallel ranks must keep identical parameters).
void rounded_allreduce(World& world) {
  std::vector<float> data(kLength);
  for (int64_t i = 0; i < kLength; ++i) data[size_t(i)] = rough_value(world.rank(), i);
  world.allreduce_sum(std::span(data));
  for (int64_t i = 0; i < kLength; ++i) {
    double exact = 0;
    for (int r = 0; r < world.size(); ++r) exact += rough_value(r, i);
    expect(std::abs(data[size_t(i)] - exact) <= world.size() * 6e-8,
           fmt::format("rounded allreduce_sum element {}", i));
  }
  std::vector<float> everyone(size_t(world.size()) * kLength);
  world.all_gather(std::span<const float>(data), std::span(everyone));
  for (int r = 1; r < world.size(); ++r)
    expect(std::memcmp(everyone.data(), everyone.data() + r * kLength, kLength * 4) == 0,
           fmt::format("rounded allreduce_sum bits of rank {} against rank 0", r));
}

// ZeRO-1 in miniature: gradients reduce-scattered into padded shards, each rank updates its
// shard, the shards gathered in place back into every rank's full vector.
void zero1_round_trip(World& world) {
  const Shard shard = zero1_shard(kLength, world.rank(), world.size());
  std::vector<float> grads(size_t(padded_length(kLength, world.size())), 0.0f);
  for (int64_t i = 0; i < kLength; ++i) grads[size_t(i)] = exact_value(world.rank(), i);
  std::vector<float> mine(size_t(shard.length));
  world.reduce_scatter_sum(std::span<const float>(grads), std::span(mine));
  for (int64_t j = 0; j < shard.length; ++j) {
    const int64_t i = shard.begin + j;
    float sum = 0;
    for (int r = 0; r < world.size() && i < kLength; ++r) sum += exact_value(r, i);
    expect(mine[size_t(j)] == sum, fmt::format("reduce_scatter_sum element {}", i));
  }
  std::vector<float> params(grads.size(), -1.0f);
  for (int64_t j = 0; j < shard.length; ++j) params[size_t(shard.begin + j)] = -mine[size_t(j)];
  const auto my_params =
      std::span<const float>(params).subspan(size_t(shard.begin), size_t(shard.length));
  world.all_gather(my_params, std::span(params));
  for (int64_t i = 0; i < kLength; ++i) {
    float sum = 0;
    for (int r = 0; r < world.size(); ++r) sum += exact_value(r, i);
    expect(params[size_t(i)] == -sum, fmt::format("in-place all_gather element {}", i));
  }
  for (size_t i = size_t(kLength); i < params.size(); ++i)
    expect(params[i] == 0.0f, "the padding after all_gather");
  const uint64_t tag = 0xabc000ull + uint64_t(world.rank());
  std::vector<uint64_t> tags(size_t(world.size()));
  world.all_gather(std::span<const uint64_t>(&tag, 1), std::span(tags));
  for (int r = 0; r < world.size(); ++r)
    expect(tags[size_t(r)] == 0xabc000ull + uint64_t(r), "all_gather(uint64)");
}

// Rows rank s sends rank d for d's local expert j: zero for some pairs, on purpose.
int64_t rows_for(int s, int d, int j) { return (s + 2 * d + j) % 3; }
constexpr int kExpertsPerRank = 2, kRowWidth = 4;
float row_value(int s, int d, int64_t row, int col) {
  return float(s * 10000 + d * 1000 + row * 10 + col);
}

void token_exchange(World& world) {
  const int me = world.rank(), ranks = world.size();
  std::vector<int64_t> counts;
  for (int d = 0; d < ranks; ++d)
    for (int j = 0; j < kExpertsPerRank; ++j) counts.push_back(rows_for(me, d, j));
  const std::vector<int64_t> incoming = exchange_counts(world, counts);
  for (int s = 0; s < ranks; ++s)
    for (int j = 0; j < kExpertsPerRank; ++j)
      expect(incoming[size_t(s * kExpertsPerRank + j)] == rows_for(s, me, j), "exchange_counts");
  std::vector<int64_t> send_counts = per_rank_totals(counts, ranks);
  std::vector<int64_t> recv_counts = per_rank_totals(incoming, ranks);
  std::vector<float> send;
  for (int d = 0; d < ranks; ++d)
    for (int64_t row = 0; row < send_counts[size_t(d)]; ++row)
      for (int col = 0; col < kRowWidth; ++col) send.push_back(row_value(me, d, row, col));
  for (int64_t& c : send_counts) c *= kRowWidth;
  for (int64_t& c : recv_counts) c *= kRowWidth;
  std::vector<float> recv(size_t(per_rank_totals(recv_counts, 1)[0]));
  world.all_to_all_v(std::span<const float>(send), std::span<const int64_t>(send_counts),
                     std::span(recv), std::span<const int64_t>(recv_counts));
  size_t at = 0;
  for (int s = 0; s < ranks; ++s)
    for (int64_t row = 0; row < recv_counts[size_t(s)] / kRowWidth; ++row)
      for (int col = 0; col < kRowWidth; ++col)
        expect(recv[at++] == row_value(s, me, row, col),
               fmt::format("all_to_all_v from rank {}", s));
}

void broadcast_and_barrier(World& world) {
  const int root = world.size() - 1;
  std::vector<double> data(17);
  for (size_t i = 0; i < data.size(); ++i) data[i] = world.rank() == root ? 1.5 * double(i) : -7;
  world.broadcast(std::span(data), root);
  for (size_t i = 0; i < data.size(); ++i) expect(data[i] == 1.5 * double(i), "broadcast");
  world.barrier();
}

int collectives(World& world) {
  world.reset_traffic();
  exact_allreduce(world);
  rounded_allreduce(world);
  zero1_round_trip(world);
  token_exchange(world);
  broadcast_and_barrier(world);
  std::string out = fmt::format("rank {} of {}: collectives ok\n", world.rank(), world.size());
  for (int k = 0; k < kCallKinds; ++k)
    out += fmt::format("traffic rank {} {} calls {} bytes {}\n", world.rank(),
                       call_kind_name(CallKind(k)), world.traffic().calls[size_t(k)],
                       world.traffic().bytes_sent[size_t(k)]);
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

// The others wait in a collective the last rank never joins.
int last_rank_fails(World& world, bool die) {
  if (world.rank() == world.size() - 1) {
    if (die) raise(SIGKILL);
    fail("injected failure on the last rank");
  }
  float x = 1;
  world.allreduce_sum(std::span<float>(&x, 1));
  return 0;
}

// Rank r of R joins group r % groups; the group's ranks keep their order (r / groups within it).
void check_group(World& world, World& group, int groups) {
  const int me = world.rank(), first = me % groups;
  const int members = (world.size() - first + groups - 1) / groups;
  expect(group.size() == members && group.rank() == me / groups,
         fmt::format("split into {} groups: rank {} of {}", groups, group.rank(), group.size()));
  std::vector<int> ranks(size_t(group.size()));
  group.all_gather(std::span<const int>(&me, 1), std::span(ranks));
  for (int i = 0; i < group.size(); ++i)
    expect(ranks[size_t(i)] == first + i * groups, "all_gather of world ranks within the group");
  double sum = me;
  group.allreduce_sum(std::span<double>(&sum, 1));
  double expected = 0;
  for (int r : ranks) expected += r;
  expect(sum == expected, "allreduce_sum within the group");
  exact_allreduce(group);
  token_exchange(group);
}

void split(World& world) {
  world.reset_traffic();
  {
    std::unique_ptr<World> pairs = world.split(world.rank() % 2);
    check_group(world, *pairs, 2);
    expect(pairs->traffic().total_bytes() > 0 || pairs->size() == 1, "the group counts traffic");
    std::unique_ptr<World> alone = world.split(world.rank());
    check_group(world, *alone, world.size());
    expect(alone->traffic().total_bytes() == 0, "a group of one sends nothing");
  }
  expect(world.traffic().total_bytes() == 0, "the groups' traffic is not the world's");
  exact_allreduce(world);  // the world itself still works after its groups are gone
}

int mpi_error(World& world) {
  int x = 0;
  try {
    check_mpi(MPI_Bcast(&x, 1, MPI_INT, world.size() + 5, MPI_COMM_WORLD), "MPI_Bcast");
  } catch (const Error& e) {
    std::printf("rank %d caught: %s\n", world.rank(), e.what());
    return 0;
  }
  return 1;
}

int run(World& world, const std::string& scenario) {
  if (scenario == "collectives") return collectives(world);
  if (scenario == "split")
    split(world);
  else if (scenario == "mismatch")
    check_same(world, "the config", world.rank() == 1 ? "model.N = 64" : "model.N = 128");
  else if (scenario == "binary")
    check_same_binary(world);
  else if (scenario == "throw" || scenario == "die")
    return last_rank_fails(world, scenario == "die");
  else if (scenario == "mpi-error")
    return mpi_error(world);
  else if (scenario == "all-or-none")
    all_or_none(world, [&] {
      if (world.rank() == 1) fail("config.toml: model.N: expected an integer");
    });
  else
    fail("unknown scenario '{}'", scenario);
  std::printf("rank %d: %s passed\n", world.rank(), scenario.c_str());
  return 0;
}

}  // namespace
}  // namespace moet::dist

int main(int argc, char** argv) {
  using namespace moet::dist;
  if (argc != 2) {
    std::fprintf(stderr, "usage: dist_ranks SCENARIO\n");
    return 2;
  }
  try {
    std::unique_ptr<World> world = make_world();
    return run_guarded(*world, "dist_ranks", 2, [&] { return run(*world, argv[1]); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_ranks: %s\n", e.what());
    return 2;
  }
}
