// The memory check of a run: the estimate for its config (model/memory.h, plus what train/ knows
// lives beside the model: optimizer moments, checkpoint copies, the data), the limit it must
// fit (train.max_memory, or what the machine has available), one line for the log and one line
// refusing a run that cannot fit, before anything large is allocated.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "model/memory.h"

namespace moet {

// What `moet train`, `moet coord` and `moet bench` hold beside the model (see run_memory.cpp).
enum class RunKind { train, resume, coord, bench };

struct RunMemory {
  MemoryEstimate estimate;
  int64_t limit = 0;
  std::string limit_source;               // "available", "train.max_memory", ...
  Recompute recompute = Recompute::none;  // what the estimate assumed (named in line())
  bool fits() const { return !estimate.overflows() && estimate.total <= limit; }
  // "memory: 1.2 GiB estimated (parameters ..., ...) of 23.4 GiB available", naming
  // train.recompute when it is on.
  std::string line() const;
  // Throws Error "<context>memory: ... more than the ... available; ..." unless fits().
  void require_fits(const std::string& context = "") const;
};

// threads: the run's OpenMP threads; 0 takes train.threads, or all of them when that is 0.
// Throws Error on a bad config (it reads the model.*, optim.*, data.* and train.* keys).
RunMemory run_memory(const Config& config, RunKind kind, int64_t threads = 0);

}  // namespace moet
