#include "model/ffn_block.h"

#include "core/error.h"
#include "core/profile.h"
#include "kernels/parallel.h"
#include "model/mlp.h"

namespace moet {

template <typename T>
void allocate_ffn(FfnActs<T>& a, const ModelConfig& c, int64_t B, bool moe) {
  const int64_t R = B * c.seq;
  a.ln.resize(R, c.N);
  if (moe) {
    allocate_moe(a, c, B);
  } else {
    const int64_t Nf = c.dense_width();
    a.pre.assign(size_t(R * c.up_cols(Nf)), T(0));
    a.act.assign(size_t(R * Nf), T(0));
  }
}

template <typename T>
void ffn_block_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a,
                       T* branch, RoutingStats* stats) {
  const ModelConfig& c = ctx.config;
  if (w.moe) {
    MOET_CHECK(stats != nullptr);
    moe_forward(ctx, w, a, a.ln.out.data(), branch, *stats);
  } else {
    PhaseScope scope(Phase::dense_ffn);
    mlp_forward<T>(branch, MlpBuffers<T>{a.pre.data(), a.act.data()}, a.ln.out.data(), ctx.R(), c.N,
                   w.ffn, c.act == Activation::swiglu, Accumulate::no);
  }
}

template <typename T>
void ffn_block_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a,
                        const T* h_in, T* dh, T loss_scale, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N;
  T* dbranch = s.dbranch.data();
  {
    PhaseScope scope(Phase::residual);
    const T rm = T(ctx.plan.residual_mult);
#pragma omp parallel for simd schedule(static) if (worth_parallel(R * N))
    for (int64_t i = 0; i < R * N; ++i) dbranch[i] = rm * dh[i];
  }
  T* dx = s.dln.data();
  if (w.moe) {
    moe_backward(ctx, w, a, a.ln.out.data(), dbranch, dx, loss_scale, s);
  } else {
    PhaseScope scope(Phase::dense_ffn);
    mlp_backward<T>(dx, Accumulate::no, dbranch, a.ln.out.data(),
                    MlpBuffers<T>{a.pre.data(), a.act.data()}, R, N, w.ffn,
                    c.act == Activation::swiglu);
  }
  norm_backward(c, w.ln2, a.ln, dh, dx, h_in, R);
}

#define MOET_INSTANTIATE(T)                                                                        \
  template void allocate_ffn<T>(FfnActs<T>&, const ModelConfig&, int64_t, bool);                   \
  template void ffn_block_forward<T>(const BlockContext<T>&, const BlockWeights<T>&, FfnActs<T>&,  \
                                     T*, RoutingStats*);                                           \
  template void ffn_block_backward<T>(const BlockContext<T>&, const BlockWeights<T>&, FfnActs<T>&, \
                                      const T*, T*, T, BackwardScratch<T>&);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
