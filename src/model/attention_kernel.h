// AttentionKernel: which causal attention kernel the model runs (key train.attention).
//
// strips (kernels/attention.h) keeps the softmax [B, H, T, T] for the backward pass; flash
// (kernels/flash_attention.h) keeps one logsumexp per row and recomputes the softmax in the
// backward pass, so its memory grows as T, not T^2. Both compute the same function; results
// differ by summation order only (fp32 rounding). automatic picks flash from kFlashFromSeq on:
// below it the strips were measured faster (flash computes the scores twice, and a short
// sequence's softmax store is small), from it on flash is (docs/performance.md, "Attention
// kernels"). Short-sequence runs (the defaults, the demo) therefore keep their exact numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace moet {

enum class AttentionKernel { automatic, strips, flash };

inline constexpr int64_t kFlashFromSeq = 256;

inline std::vector<std::string> attention_kernel_names() { return {"auto", "strips", "flash"}; }
inline const char* attention_kernel_name(AttentionKernel k) {
  return k == AttentionKernel::strips ? "strips" : k == AttentionKernel::flash ? "flash" : "auto";
}
// Throws Error on a name that is not one of attention_kernel_names().
inline AttentionKernel attention_kernel_from_name(const std::string& name) {
  if (name == "auto") return AttentionKernel::automatic;
  if (name == "strips") return AttentionKernel::strips;
  if (name == "flash") return AttentionKernel::flash;
  fail("train.attention: '{}' is not one of auto|strips|flash", name);
}
// The kernel a model of context length seq runs: strips or flash, never automatic.
inline AttentionKernel resolve_attention_kernel(AttentionKernel k, int64_t seq) {
  if (k != AttentionKernel::automatic) return k;
  return seq >= kFlashFromSeq ? AttentionKernel::flash : AttentionKernel::strips;
}

}  // namespace moet
