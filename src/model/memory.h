// The memory a training run will allocate, computed from the shape before anything is allocated,
// so a run that cannot fit is refused with one line instead of aborting with std::bad_alloc (or
// being killed) minutes in.
//
// The model knows its buffers (model.h, activations.h): parameters and gradients (fp32, one flat
// buffer each), every activation kept for the backward pass and the backward scratch for a batch
// of B sequences, one chunk of logits (model/readout_rows.h), the attention tiles of every thread,
// and in bf16 the weight copy and the per-thread rounding scratch (and, on a CPU without a bf16
// matmul, the per-thread fp32 widening buffers). The caller adds what lives outside the model:
// the optimizer's moments, transient parameter copies (checkpoints, probes) and the loaded data.
// Every product is overflow-checked: a size that does not fit in int64 bytes is reported as
// overflowing, which is "too large" by any measure. The estimate is meant as a slight upper bound
// of the peak resident memory (measured ratios in docs/performance.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/attention_kernel.h"
#include "model/config.h"
#include "model/precision.h"
#include "model/recompute.h"

namespace moet {

// What a run adds to the model's own buffers.
struct MemoryPlan {
  int64_t batch = 1;    // sequences per micro-batch (B)
  int64_t threads = 1;  // OpenMP threads: attention tiles and bf16 scratch are per thread
  Precision precision = Precision::fp32;
  AttentionKernel attention = AttentionKernel::automatic;  // strips keep [B, H, T, T] per block
  Recompute recompute = Recompute::none;  // what the blocks drop for the backward pass
  int64_t optimizer_buffers = 2;  // fp32 values per parameter the optimizer keeps (Adam: m, v)
  int64_t parameter_copies = 0;   // further fp32 copies of the parameters held at the peak
  int64_t activation_copies = 0;  // further copies of the forward activations (probes)
  int64_t logit_copies = 0;       // [rows, vocab] fp32 logits held beside the model (probes)
  int64_t data_bytes = 0;         // the data the loader holds in memory
};

struct MemoryPart {
  std::string name;   // "parameters", "activations", ...
  int64_t bytes = 0;  // meaningless when overflow
  bool overflow = false;
};

struct MemoryEstimate {
  std::vector<MemoryPart> parts;  // nonzero parts, largest first
  int64_t total = 0;              // meaningless when overflows()
  // The first part whose size overflows int64 bytes, or empty.
  std::string overflow;
  bool overflows() const { return !overflow.empty(); }
  // "parameters 1.2 GiB, optimizer 2.4 GiB, ..." (the three largest parts).
  std::string breakdown() const;
};

// Fixed cost of the process itself: code, libraries, oneDNN's JIT kernels and scratchpads,
// thread stacks; measured at about 10 MiB for `moet train` before any data or model.
constexpr int64_t kRuntimeBytes = int64_t(32) << 20;

MemoryEstimate estimate_training_memory(const ModelConfig& config, const MemoryPlan& plan);

// Tensors and parameters of the layout, computed in O(1) in L (from a layout with no block, one
// MoE and one dense block) so an absurd L is caught before the layout is built. Throws Error when
// a tensor's size does not fit in int64; the parameter count may still overflow (flagged).
struct LayoutCounts {
  int64_t tensors = 0;
  int64_t parameters = 0;
  bool parameters_overflow = false;
  // The largest matrix a GEMM reads from the weights: one expert's slice of an expert tensor,
  // else a whole tensor (in most configs the readout's [vocab, N]).
  int64_t widest_matrix = 0;
};
LayoutCounts layout_counts(const ModelConfig& config);
// The most tensors validate() accepts: 2^18, about 13000 blocks (L) of the widest kind, far past
// any real model, while their bookkeeping stays near 100 MB.
constexpr int64_t kMaxTensors = int64_t(1) << 18;

}  // namespace moet
