#include "dist/agree.h"

#include <fstream>
#include <iterator>
#include <map>
#include <vector>

namespace moet::dist {

uint64_t fnv1a64(std::span<const std::byte> bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (std::byte b : bytes) hash = (hash ^ uint64_t(b)) * 0x100000001b3ull;
  return hash;
}

namespace {

std::string rank_list(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

void check_same(World& world, std::string_view what, std::span<const std::byte> bytes) {
  const uint64_t mine = fnv1a64(bytes);
  std::vector<uint64_t> hashes(size_t(world.size()));
  world.all_gather(std::span<const uint64_t>(&mine, 1), std::span<uint64_t>(hashes));
  std::map<uint64_t, std::vector<int>> ranks_by_hash;
  std::vector<uint64_t> order;  // hashes in the order of their first rank
  for (int r = 0; r < world.size(); ++r) {
    auto& ranks = ranks_by_hash[hashes[size_t(r)]];
    if (ranks.empty()) order.push_back(hashes[size_t(r)]);
    ranks.push_back(r);
  }
  if (order.size() == 1) return;
  std::string groups;
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& ranks = ranks_by_hash[order[i]];
    groups += fmt::format("{}{} {} {:016x}", i ? "; " : "", rank_list(ranks),
                          ranks.size() == 1 ? "has" : "have", order[i]);
  }
  throw AgreedError(fmt::format("{} differs between ranks: {}", what, groups));
}

void check_same_binary(World& world) {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) fail("/proc/self/exe: cannot read this executable to hash it");
  check_same(world, "the moet executable (/proc/self/exe)", std::string_view(bytes));
}

void all_or_none(World& world, const std::function<void()>& step) {
  std::string message;
  int failed = 0;
  try {
    step();
  } catch (const Error& e) {
    message = e.what();
    failed = 1;
  }
  std::vector<int> failures(size_t(world.size()));
  world.all_gather(std::span<const int>(&failed, 1), std::span<int>(failures));
  int first = -1;
  for (int r = world.size() - 1; r >= 0; --r)
    if (failures[size_t(r)]) first = r;
  if (first < 0) return;
  uint64_t length = message.size();
  world.broadcast(std::span<uint64_t>(&length, 1), first);
  message.resize(length);
  world.broadcast(std::span<char>(message.data(), message.size()), first);
  throw AgreedError(world.size() > 1 ? fmt::format("rank {}: {}", first, message) : message);
}

}  // namespace moet::dist
