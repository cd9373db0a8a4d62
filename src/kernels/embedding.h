// Token and position embeddings: row lookups scaled by the tensor's forward multiplier.
//
// Backward scatters into the table; it parallelises over column blocks so no two threads write
// the same entry and the sum order per entry is fixed (deterministic).
#pragma once

#include <cstdint>

namespace moet {

// out[r] = mult * table[tokens[r]]
template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int64_t rows, int64_t N,
                       T mult);
// dtable[tokens[r]] += mult * dout[r]
template <typename T>
void embedding_backward(T* dtable, const int32_t* tokens, const T* dout, int64_t rows, int64_t N,
                        T mult);

// out[b, t] += mult * pos[t] for B sequences of length seq
template <typename T>
void add_positions(T* out, const T* pos, int64_t B, int64_t seq, int64_t N, T mult);
// dpos[t] += mult * sum_b dout[b, t]
template <typename T>
void positions_backward(T* dpos, const T* dout, int64_t B, int64_t seq, int64_t N, T mult);

}  // namespace moet
