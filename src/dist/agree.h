// Agreement between ranks: errors every rank raises together, so a run stops with one line and
// no rank is left waiting for another.
//
// A rank that fails alone must abort the world (guard.h): the others may be blocked in a
// collective it will never join. When every rank learns of the same problem at the same
// collective, they can instead all throw AgreedError and leave normally, and only rank 0 need
// say why. check_same (start-up identity: binary, config) and all_or_none (a step any rank may
// fail, such as reading a config or a checkpoint) produce such errors.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "core/error.h"
#include "dist/world.h"

namespace moet::dist {

// Thrown with the same message on every rank, at the same point of the run.
class AgreedError : public Error {
 public:
  using Error::Error;
};

// 64-bit FNV-1a: an identity for comparing bytes across ranks, not a cryptographic hash.
uint64_t fnv1a64(std::span<const std::byte> bytes);

// All ranks compare the hash of their `bytes`; on any difference every rank throws AgreedError
// "<what> differs between ranks: rank 0 has 1f..; ranks 1, 3 have 9a..", grouping ranks by hash.
void check_same(World& world, std::string_view what, std::span<const std::byte> bytes);
inline void check_same(World& world, std::string_view what, std::string_view text) {
  check_same(world, what, std::as_bytes(std::span(text.data(), text.size())));
}
// check_same on the bytes of this process's executable (/proc/self/exe): ranks on hosts with
// different builds of moet would compute different numbers.
void check_same_binary(World& world);

// Runs step on every rank. If it throws Error on any rank, every rank throws AgreedError with the
// message of the lowest failing rank, prefixed "rank r: " when R > 1. Other exceptions are not
// caught (they are bugs: the guard aborts the world).
void all_or_none(World& world, const std::function<void()>& step);

}  // namespace moet::dist
