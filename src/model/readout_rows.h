// How many rows of logits the readout forms at a time (model.cpp): it never holds the whole
// [rows, vocab] logits, only a chunk, from which it takes the loss and, in a training pass, the
// logits' gradient and at once the readout's input and weight gradients (llm.c's fused
// classifier). 256 rows are a multiple of the linear layer's GEMM row block (kernels/linear.cpp),
// so a chunk is one GEMM, and a long enough reduction for the weight gradient's GEMM to amortise
// reading and writing the [vocab, N] gradient once per chunk; its logits are 8 MiB at a
// vocabulary of 8192, against 128 MiB for the small bench's 4096 rows whole.
#pragma once

#include <algorithm>
#include <cstdint>

namespace moet {

constexpr int64_t kReadoutRows = 256;

// Rows of the logits buffer of a model whose batch has `rows` rows.
inline int64_t readout_chunk_rows(int64_t rows, int64_t chunk = kReadoutRows) {
  return std::min(rows, chunk);
}

}  // namespace moet
