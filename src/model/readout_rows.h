// How many rows of logits the readout forms at a time (model.cpp): it never holds the whole
// [rows, vocab] logits, only a chunk, from which it takes the loss and, in a training pass, the
// logits' gradient and at once the readout's input and weight gradients (llm.c's fused
// classifier). 1024 rows, measured on a one-block model of the small bench's shape (forward and
// backward, 4096 rows, 2 threads, interleaved): 256-row chunks cost 18% more per step and 512 5%
// more than the whole logits at once, 1024 the same; their logits are 32 MiB at a vocabulary of
// 8192, against 128 MiB for the small bench's 4096 rows whole. A multiple of the linear layer's
// 256-row GEMM block (kernels/linear.cpp), so a full chunk is one GEMM.
#pragma once

#include <algorithm>
#include <cstdint>

namespace moet {

constexpr int64_t kReadoutRows = 1024;

// Rows of the logits buffer of a model whose batch has `rows` rows.
inline int64_t readout_chunk_rows(int64_t rows, int64_t chunk = kReadoutRows) {
  return std::min(rows, chunk);
}

}  // namespace moet
