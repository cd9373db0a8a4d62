// The flash attention kernel (kernels/flash_attention.h) with bf16 operands: what the model runs
// for seq >= kFlashFromSeq under train.precision = bf16 on a CPU with AMX.
//
// Same function, same layouts and the same FlashAttention-2 algorithm; what changes is the number
// format of the five products. Q, K, V (and dO, and the probabilities P and their gradient dS as
// they are formed) are rounded to bf16 and multiplied on AMX tiles (kernels/bf16_tile_gemm.h)
// with fp32 accumulation; the scores, the softmax statistics (running max and sum, logsumexp, D)
// and every output and gradient stay fp32. Tiles want whole 64 x 64 blocks, so query and key
// blocks are both kBf16FlashBlock and the diagonal block computes its masked half too (AMX time is
// small next to the fp32 softmax passes). One (sequence, head) pair per task, as in the fp32
// kernel: results do not depend on the schedule. Packed operands live in per-thread scratch that
// grows on first use and is then reused (no allocation once a step has run). Backward *writes*
// dq, dk, dv.
#pragma once

#include <cstdint>

#include "core/checked_size.h"

namespace moet {

inline constexpr int64_t kBf16FlashBlock = 64;

// Whether the model should run this kernel for bf16: its products run on AMX here. Elsewhere (no
// AMX, or the fallback forced by a test) the model keeps the fp32 attention core, and this kernel
// still runs correctly, on the scalar fallback of kernels/bf16_tile_gemm.h, but slowly.
bool bf16_attention_available();

// Bytes of scratch each thread that runs a pass keeps from its first pass on (per type, the larger
// of the forward's and the backward's needs): this kernel's share of the memory estimate.
CheckedSize flash_attention_bf16_scratch_bytes(int64_t T_len, int64_t d);

// A pass uses at most `threads` OpenMP threads.
void flash_attention_forward_bf16(float* out, float* lse, const float* q, const float* k,
                                  const float* v, int64_t B, int64_t T_len, int64_t H, int64_t d,
                                  double scale, int threads);
void flash_attention_backward_bf16(float* dq, float* dk, float* dv, const float* dout,
                                   const float* out, const float* lse, const float* q,
                                   const float* k, const float* v, int64_t B, int64_t T_len,
                                   int64_t H, int64_t d, double scale, int threads);

}  // namespace moet
