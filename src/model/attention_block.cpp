#include "model/attention_block.h"

#include <algorithm>
#include <optional>
#include <type_traits>

#include "core/profile.h"
#include "kernels/attention.h"
#include "kernels/flash_attention.h"
#include "kernels/flash_attention_bf16.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/parallel.h"

namespace moet {

template <typename T>
void allocate_attention(AttentionActs<T>& a, const ModelConfig& c, int64_t B,
                        AttentionKernel kernel) {
  const int64_t R = B * c.seq, N = c.N, H = c.heads();
  const size_t rn = size_t(R * N);
  a.ln.resize(R, N);
  a.q_lin.assign(rn, T(0));
  a.k_lin.assign(rn, T(0));
  a.v.assign(rn, T(0));
  if (c.qk_norm || c.pos == PosEncoding::rope) {
    a.q.assign(rn, T(0));
    a.k.assign(rn, T(0));
  }
  if (c.qk_norm) {
    a.q_rstd.assign(size_t(R * H), T(0));
    a.k_rstd.assign(size_t(R * H), T(0));
  }
  a.kernel = kernel;
  if (kernel == AttentionKernel::flash)
    a.lse.assign(size_t(B * H * c.seq), T(0));
  else
    a.probs.assign(size_t(B * H * c.seq * c.seq), T(0));
  a.att.assign(rn, T(0));
}

int64_t attention_block_scratch_numel(AttentionKernel kernel, const ModelConfig& c, int threads) {
  return kernel == AttentionKernel::flash ? flash_attention_scratch_numel(c.seq, c.d_head, threads)
                                          : attention_scratch_numel(c.seq, c.d_head, threads);
}

namespace {

// q or k from its projection: qk-norm per head (no gain), then RoPE.
template <typename T>
void transform_qk(const BlockContext<T>& ctx, const T* lin, T* out, T* rstd) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N;
  if (c.qk_norm)
    rmsnorm_forward<T>(out, rstd, lin, {}, R * c.heads(), c.d_head, c.norm_eps);
  else
    std::copy(lin, lin + R * N, out);
  if (ctx.rope) rope_forward<T>(out, *ctx.rope, ctx.B, c.heads());
}

// In place on dout: back through RoPE; then through qk-norm into dlin.
template <typename T>
void transform_qk_backward(const BlockContext<T>& ctx, T* dout, const T* lin, const T* rstd,
                           T* dlin) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N;
  if (ctx.rope) rope_backward<T>(dout, *ctx.rope, ctx.B, c.heads());
  if (c.qk_norm) {
    std::fill(dlin, dlin + R * N, T(0));
    rmsnorm_backward<T>(dlin, {}, dout, lin, rstd, R * c.heads(), c.d_head);
  } else {
    std::copy(dout, dout + R * N, dlin);
  }
}

// Whether the core runs in bf16 (kernels/flash_attention_bf16.h): a bf16 model (its weights carry
// bf16 copies) on the flash kernel, where AMX runs the products. Otherwise, and on the strips, the
// core stays fp32.
template <typename T>
bool bf16_core(const BlockWeights<T>& w, const AttentionActs<T>& a) {
  return std::is_same_v<T, float> && w.wq.bf16 && a.kernel == AttentionKernel::flash &&
         bf16_attention_available();
}

// The causal core, q/k/v to att, by the kernel the block runs.
template <typename T>
void attention_core_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                            AttentionActs<T>& a, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  if constexpr (std::is_same_v<T, float>)
    if (bf16_core(w, a))
      return flash_attention_forward_bf16(a.att.data(), a.lse.data(), a.q_final(), a.k_final(),
                                          a.v.data(), ctx.B, c.seq, c.heads(), c.d_head,
                                          ctx.plan.attn_logit_scale, s.attn_threads);
  if (a.kernel == AttentionKernel::flash)
    flash_attention_forward<T>(a.att.data(), a.lse.data(), a.q_final(), a.k_final(), a.v.data(),
                               ctx.B, c.seq, c.heads(), c.d_head, ctx.plan.attn_logit_scale,
                               s.attn.data(), s.attn_threads);
  else
    attention_forward<T>(a.att.data(), a.probs.data(), a.q_final(), a.k_final(), a.v.data(), ctx.B,
                         c.seq, c.heads(), c.d_head, ctx.plan.attn_logit_scale, s.attn.data(),
                         s.attn_threads);
}

// The backward of attention_core_forward: s.datt to s.dq, s.dk, s.dv.
template <typename T>
void attention_core_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                             const AttentionActs<T>& a, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  if constexpr (std::is_same_v<T, float>)
    if (bf16_core(w, a))
      return flash_attention_backward_bf16(s.dq.data(), s.dk.data(), s.dv.data(), s.datt.data(),
                                           a.att.data(), a.lse.data(), a.q_final(), a.k_final(),
                                           a.v.data(), ctx.B, c.seq, c.heads(), c.d_head,
                                           ctx.plan.attn_logit_scale, s.attn_threads);
  if (a.kernel == AttentionKernel::flash)
    flash_attention_backward<T>(s.dq.data(), s.dk.data(), s.dv.data(), s.datt.data(), a.att.data(),
                                a.lse.data(), a.q_final(), a.k_final(), a.v.data(), ctx.B, c.seq,
                                c.heads(), c.d_head, ctx.plan.attn_logit_scale, s.attn.data(),
                                s.attn_threads);
  else
    attention_backward<T>(s.dq.data(), s.dk.data(), s.dv.data(), s.datt.data(), a.q_final(),
                          a.k_final(), a.v.data(), a.probs.data(), ctx.B, c.seq, c.heads(),
                          c.d_head, ctx.plan.attn_logit_scale, s.attn.data(), s.attn_threads);
}

}  // namespace

template <typename T>
void attention_acts_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                            AttentionActs<T>& a, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N;
  const T* x = a.ln.out.data();
  std::optional<PhaseScope> scope(std::in_place, Phase::attn_proj);
  linear_forward<T>(a.q_lin.data(), x, w.wq.value, w.bq.scaled(), R, N, N, w.wq.mult,
                    Accumulate::no, w.wq.bf16);
  linear_forward<T>(a.k_lin.data(), x, w.wk.value, w.bk.scaled(), R, N, N, w.wk.mult,
                    Accumulate::no, w.wk.bf16);
  linear_forward<T>(a.v.data(), x, w.wv.value, w.bv.scaled(), R, N, N, w.wv.mult, Accumulate::no,
                    w.wv.bf16);
  scope.emplace(Phase::attn_core);
  if (!a.q.empty()) {
    transform_qk(ctx, a.q_lin.data(), a.q.data(), a.q_rstd.data());
    transform_qk(ctx, a.k_lin.data(), a.k.data(), a.k_rstd.data());
  }
  attention_core_forward(ctx, w, a, s);
}

template <typename T>
void attention_block_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                             AttentionActs<T>& a, T* branch, BackwardScratch<T>& s) {
  const int64_t R = ctx.R(), N = ctx.config.N;
  attention_acts_forward(ctx, w, a, s);
  PhaseScope scope(Phase::attn_proj);
  linear_forward<T>(branch, a.att.data(), w.wo.value, w.bo.scaled(), R, N, N, w.wo.mult,
                    Accumulate::no, w.wo.bf16);
}

template <typename T>
void attention_block_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w,
                              const AttentionActs<T>& a, const T* h_in, T* dh,
                              BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N;
  T* dbranch = s.dbranch.data();
  std::optional<PhaseScope> scope(std::in_place, Phase::residual);
  const T rm = T(ctx.plan.residual_mult);
#pragma omp parallel for simd schedule(static) if (worth_parallel(R * N))
  for (int64_t i = 0; i < R * N; ++i) dbranch[i] = rm * dh[i];
  scope.emplace(Phase::attn_proj);
  linear_backward<T>(s.datt.data(), w.wo.grad, w.bo.scaled(), dbranch, a.att.data(), w.wo.value, R,
                     N, N, w.wo.mult, Accumulate::no, w.wo.bf16);
  scope.emplace(Phase::attn_core);
  attention_core_backward(ctx, w, a, s);
  T* dq_lin = s.dq.data();
  T* dk_lin = s.dk.data();
  if (!a.q.empty()) {
    transform_qk_backward(ctx, s.dq.data(), a.q_lin.data(), a.q_rstd.data(), s.dq_lin.data());
    transform_qk_backward(ctx, s.dk.data(), a.k_lin.data(), a.k_rstd.data(), s.dk_lin.data());
    dq_lin = s.dq_lin.data();
    dk_lin = s.dk_lin.data();
  }
  scope.emplace(Phase::attn_proj);
  const T* x = a.ln.out.data();
  T* dx = s.dln.data();
  linear_backward<T>(dx, w.wq.grad, w.bq.scaled(), dq_lin, x, w.wq.value, R, N, N, w.wq.mult,
                     Accumulate::no, w.wq.bf16);
  linear_backward<T>(dx, w.wk.grad, w.bk.scaled(), dk_lin, x, w.wk.value, R, N, N, w.wk.mult,
                     Accumulate::yes, w.wk.bf16);
  linear_backward<T>(dx, w.wv.grad, w.bv.scaled(), s.dv.data(), x, w.wv.value, R, N, N, w.wv.mult,
                     Accumulate::yes, w.wv.bf16);
  scope.reset();
  norm_backward(c, w.ln1, a.ln, dh, dx, h_in, R);
}

#define MOET_INSTANTIATE(T)                                                                 \
  template void attention_acts_forward<T>(const BlockContext<T>&, const BlockWeights<T>&,   \
                                          AttentionActs<T>&, BackwardScratch<T>&);          \
  template void allocate_attention<T>(AttentionActs<T>&, const ModelConfig&, int64_t,       \
                                      AttentionKernel);                                     \
  template void attention_block_forward<T>(const BlockContext<T>&, const BlockWeights<T>&,  \
                                           AttentionActs<T>&, T*, BackwardScratch<T>&);     \
  template void attention_block_backward<T>(const BlockContext<T>&, const BlockWeights<T>&, \
                                            const AttentionActs<T>&, const T*, T*,          \
                                            BackwardScratch<T>&);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
