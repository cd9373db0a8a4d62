// Token-choice routing: top-K selection and the permutation that groups tokens by expert.
//
// Dropless: each of the R rows picks exactly K distinct experts. A (row, slot) pair is the
// assignment index a = row * K + slot. group_by_expert lays the R*K assignments out expert by
// expert (a counting sort, stable in a), so each expert's tokens are one contiguous block and the
// expert runs as one GEMM; position[a] says where assignment a landed. Both directions are
// computed per destination row, so no two threads add into the same memory (deterministic).
#pragma once

#include <cstdint>

#include "kernels/flags.h"
#include "kernels/scaled_vector.h"

namespace moet {

// selected[r, :] = the K experts with the largest score + bias.mult * bias.value, best first;
// ties go to the lower expert index. The bias (empty: none) only steers the choice: no gradient
// flows through it, and bias.grad is not used.
template <typename T>
void topk_select(int32_t* selected, const T* scores, ScaledVector<T> bias, int64_t rows, int64_t M,
                 int64_t K);

// offsets[M + 1]: expert e owns positions [offsets[e], offsets[e+1]).
// order[p] = assignment at position p; position[a] = p for assignment a.
void group_by_expert(int64_t* offsets, int32_t* order, int32_t* position, const int32_t* selected,
                     int64_t rows, int64_t M, int64_t K);

// dst[p] = src[order[p] / K] for p in [0, R*K)
template <typename T>
void gather_assignments(T* dst, const T* src, const int32_t* order, int64_t rows, int64_t K,
                        int64_t N);

// dst[r] (+)= sum_k weight[r*K + k] * src[position[r*K + k]]; Accumulate::yes chooses += over =.
template <typename T>
void combine_assignments(T* dst, const T* src, const T* weight, const int32_t* position,
                         int64_t rows, int64_t K, int64_t N, Accumulate accumulate);

}  // namespace moet
