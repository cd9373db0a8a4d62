// Causal multi-head softmax attention without the T x T softmax store (flash-style), forward and
// backward: the same function as kernels/attention.h with memory O(B H T d) instead of
// O(B H T^2).
//
// q, k, v and out are [B*T, N] with head h in columns [h*d, (h+1)*d), as in kernels/attention.h,
// and the logit scale is given. The forward pass keeps, besides out, one logsumexp per query row,
// lse [B, H, T] (lse_t = log sum_j exp(scale q_t . k_j)), so that the backward pass can recompute
// the softmax block by block as P = exp(S - lse) (FlashAttention-2): D_t = dO_t . O_t, then per
// block dP = dO V^T, dS = P (dP - D), dQ += scale dS K, dK += scale dS^T Q, dV += P^T dO. The
// scores are computed twice (forward and backward), five products of the size of Q K^T per step
// against the strip kernel's four, in exchange for no T x T buffer in memory or in cache.
//
// One (sequence, head) pair per task, as in kernels/attention.h, so the results do not depend on
// the schedule. Forward: by query block of kFlashQueryBlock rows, over key blocks of
// kFlashKeyBlock keys with a running max and sum per row (online softmax; a row's output is
// rescaled when its max grows and divided by its sum at the end). Backward: by key block, over
// the query blocks that see it; dK and dV of the key block and dQ of each query block add up in
// place. Products are kernels/tile_gemm.h. The bf16 variant with fp32 statistics (AMX products)
// is kernels/flash_attention_bf16.h. Backward *writes* dq, dk, dv.
#pragma once

#include <cstdint>

namespace moet {

inline constexpr int64_t kFlashQueryBlock = 48;
inline constexpr int64_t kFlashKeyBlock = 128;

// Elements of scratch either pass needs to run on `threads` threads: per thread K^T and V^T
// packed (d x T each), two score tiles and one value per query row.
int64_t flash_attention_scratch_numel(int64_t T_len, int64_t d, int threads);

// scratch holds flash_attention_scratch_numel(T_len, d, scratch_threads) elements; a pass uses
// at most scratch_threads threads and allocates nothing. lse is [B, H, T].
template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, int64_t B,
                             int64_t T_len, int64_t H, int64_t d, double scale, T* scratch,
                             int scratch_threads);
template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, const T* k, const T* v, int64_t B, int64_t T_len,
                              int64_t H, int64_t d, double scale, T* scratch, int scratch_threads);

// The same with scratch allocated per call (tests).
template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, int64_t B,
                             int64_t T_len, int64_t H, int64_t d, double scale);
template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse,
                              const T* q, const T* k, const T* v, int64_t B, int64_t T_len,
                              int64_t H, int64_t d, double scale);

}  // namespace moet
