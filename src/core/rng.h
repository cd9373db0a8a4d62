// Rng: a small, fast, reproducible random source (xoshiro256** seeded by splitmix64).
//
// Same seed, same sequence, on every machine and thread count: every consumer (parameter
// init, data order, random benchmark tokens) derives its own stream with Rng(seed, stream_id)
// instead of sharing one generator across threads.
#pragma once

#include <cstdint>

namespace moet {

class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0);

  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);
  // Standard normal (Box-Muller; the second value of each pair is cached).
  double normal();

  struct State {
    uint64_t s[4];
    double cached_normal;
    bool has_cached_normal;
  };
  State state() const;
  void set_state(const State& state);

 private:
  uint64_t s_[4];
  double cached_normal_ = 0;
  bool has_cached_normal_ = false;
};

}  // namespace moet
