#include "model/moe_layer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>

#include "core/error.h"
#include "core/profile.h"
#include "dist/world.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "kernels/routing.h"
#include "kernels/softmax_row.h"
#include "model/mlp.h"

namespace moet {

std::vector<double> RoutingStats::load() const {
  std::vector<double> out(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) out[i] = tokens ? double(counts[i]) / tokens : 0.0;
  return out;
}

double RoutingStats::max_over_mean_load() const {
  if (counts.empty()) return 0;
  int64_t max_count = 0, total = 0;
  for (const int64_t n : counts) max_count = std::max(max_count, n), total += n;
  return total ? double(max_count) * counts.size() / total : 0.0;
}

template <typename T>
void allocate_moe(FfnActs<T>& a, const ModelConfig& c, int64_t B) {
  const int64_t R = B * c.seq, N = c.N, M = c.M, K = c.K, A = R * K;
  RoutingActs<T>& r = a.routing;
  r.logits.assign(size_t(R * M), T(0));
  r.scores.assign(size_t(R * M), T(0));
  r.selected.assign(size_t(A), 0);
  r.gates.assign(size_t(A), T(0));
  r.combine_weight.assign(size_t(A), T(0));
  r.offsets.assign(size_t(M + 1), 0);
  r.order.assign(size_t(A), 0);
  r.position.assign(size_t(A), 0);
  if (c.aux_weight > 0 || c.z_weight > 0) r.aux_probs.assign(size_t(R * M), T(0));
  if (c.z_weight > 0) r.logsumexp.assign(size_t(R), T(0));
  r.totals.assign(size_t(2 * M + 3), 0.0);
  a.x_perm.assign(size_t(A * N), T(0));
  a.exp_pre.assign(size_t(A * c.up_cols(c.Ne)), T(0));
  a.exp_act.assign(size_t(A * c.Ne), T(0));
  a.exp_out.assign(size_t(A * N), T(0));
  if (c.shared_experts > 0) {
    const int64_t S = c.shared_experts, Ns = c.shared_width();
    a.pre.assign(size_t(S * R * c.up_cols(Ns)), T(0));
    a.act.assign(size_t(S * R * Ns), T(0));
  }
}

namespace {

template <typename T>
void route(const BlockContext<T>& ctx, const BlockWeights<T>& w, RoutingActs<T>& r, const T* x) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), M = c.M, K = c.K;
  linear_forward<T>(r.logits.data(), x, w.router.value, {}, R, c.N, M, w.router.mult);
  const bool softmax = c.router_score == RouterScore::softmax;
  const bool want_probs = !r.aux_probs.empty();
#pragma omp parallel for schedule(static) if (worth_parallel(R * M))
  for (int64_t i = 0; i < R; ++i) {
    const T* l = r.logits.data() + i * M;
    T* s = r.scores.data() + i * M;
    // softmax(logits), formed in place in the buffer that keeps it.
    const auto softmax_into = [&](T* p) {
      std::copy(l, l + M, p);
      const RowExp<T> e = exp_shift_row(p, M);
      scale_row(p, M, T(1) / e.sum);
      if (!r.logsumexp.empty()) r.logsumexp[i] = e.max + std::log(e.sum);
    };
    if (want_probs) {
      T* p = r.aux_probs.data() + i * M;
      softmax_into(p);
      if (softmax) std::copy(p, p + M, s);
    } else if (softmax) {
      softmax_into(s);
    }
    if (!softmax) sigmoid_row(s, l, M);
  }
  topk_select<T>(r.selected.data(), r.scores.data(), w.route_bias.scaled(), R, M, K);
#pragma omp parallel for schedule(static) if (worth_parallel(R * K))
  for (int64_t i = 0; i < R; ++i) {
    T sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const T g = r.scores[i * M + r.selected[i * K + k]];
      r.gates[i * K + k] = g;
      sum += g;
    }
    if (c.gate_renorm)
      for (int64_t k = 0; k < K; ++k) r.gates[i * K + k] /= sum;
  }
  group_by_expert(r.offsets.data(), r.order.data(), r.position.data(), r.selected.data(), R, M, K);
}

// The backward of route(): gates -> scores -> router logits, plus the auxiliary- and z-loss
// gradients, then the router's linear backward, which adds d loss / d x into dx. dgates [R, K]
// holds d loss / d gate per assignment.
template <typename T>
void route_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, const RoutingActs<T>& r,
                    const T* x, const T* dgates, T* dx, T loss_scale, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N, M = c.M, K = c.K;
  const bool softmax = c.router_score == RouterScore::softmax;
  // d aux / d p[i, e] = weight * M * f_e / R with f_e the fraction of the token group's
  // assignments to e (each rank's share of the gradient times the group's size, as for the mean
  // cross-entropy of its own rows).
  const int64_t group_assignments = int64_t(r.totals[2 * M + 2]) * K;
  const auto aux_coef = [&](int64_t e) {
    return T(c.aux_weight * M * (r.totals[e] / double(group_assignments)) / R);
  };
  T* drouter = s.drouter.data();
#pragma omp parallel for schedule(static) if (worth_parallel(R * M))
  for (int64_t i = 0; i < R; ++i) {
    T* ds = s.dscores.data() + i * M;
    std::fill(ds, ds + M, T(0));
    const T* g = r.gates.data() + i * K;
    const T* dg = dgates + i * K;
    const int32_t* sel = r.selected.data() + i * K;
    if (c.gate_renorm) {
      // g_k = s_k / S with S = sum of chosen scores: ds_k = (dg_k - sum_j dg_j g_j) / S
      T S = 0, dot = 0;
      for (int64_t k = 0; k < K; ++k) S += r.scores[i * M + sel[k]], dot += dg[k] * g[k];
      for (int64_t k = 0; k < K; ++k) ds[sel[k]] += (dg[k] - dot) / S;
    } else {
      for (int64_t k = 0; k < K; ++k) ds[sel[k]] += dg[k];
    }
    const T* sc = r.scores.data() + i * M;
    T* dl = drouter + i * M;
    if (softmax) {
      T dot = 0;
      for (int64_t e = 0; e < M; ++e) dot += ds[e] * sc[e];
      for (int64_t e = 0; e < M; ++e) dl[e] = sc[e] * (ds[e] - dot);
    } else {
      for (int64_t e = 0; e < M; ++e) dl[e] = ds[e] * sc[e] * (T(1) - sc[e]);
    }
    if (c.aux_weight > 0 || c.z_weight > 0) {
      const T* p = r.aux_probs.data() + i * M;
      if (c.aux_weight > 0) {
        T dot = 0;
        for (int64_t e = 0; e < M; ++e) dot += aux_coef(e) * p[e];
        for (int64_t e = 0; e < M; ++e) dl[e] += loss_scale * p[e] * (aux_coef(e) - dot);
      }
      if (c.z_weight > 0) {
        const T coef = loss_scale * T(2 * c.z_weight / R) * r.logsumexp[i];
        for (int64_t e = 0; e < M; ++e) dl[e] += coef * p[e];
      }
    }
  }
  linear_backward<T>(dx, w.router.grad, {}, drouter, x, w.router.value, R, N, M, w.router.mult,
                     Accumulate::yes);
}

// Runs fn(e, first_position, rows) for every expert with tokens. With several threads the
// experts run side by side, one per thread (their GEMMs then run on the calling thread): for the
// expert sizes of small models that beats splitting each GEMM over the threads
// (docs/performance.md), and every expert writes only its own rows and its own weight
// gradients, so the results do not depend on which thread ran which expert.
template <typename Fn>
void for_each_expert(const std::vector<int64_t>& offsets, int64_t M, Fn&& fn) {
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
  for (int64_t e = 0; e < M; ++e) {
    const int64_t rows = offsets[e + 1] - offsets[e];
    if (rows > 0) fn(e, offsets[e], rows);
  }
}

// Shared expert s's rows of the stacked pre/act buffers.
template <typename T>
MlpBuffers<T> shared_buffers(const ModelConfig& c, FfnActs<T>& a, int64_t s, int64_t R) {
  const int64_t Ns = c.shared_width();
  return {a.pre.data() + s * R * c.up_cols(Ns), a.act.data() + s * R * Ns};
}

template <typename T>
MlpWeights<T> shared_slice(const ModelConfig& c, const MlpWeights<T>& all, int64_t s) {
  const int64_t Ns = c.shared_width(), up = c.up_cols(Ns);
  return {all.up.expert(s, c.N * up), all.up_bias.expert(s, up), all.down.expert(s, Ns * c.N),
          all.down_bias.expert(s, c.N), Ns};
}

template <typename T>
MlpWeights<T> expert_slice(const ModelConfig& c, const MlpWeights<T>& all, int64_t e) {
  const int64_t up = c.up_cols(c.Ne);
  return {all.up.expert(e, c.N * up), all.up_bias.expert(e, up), all.down.expert(e, c.Ne * c.N),
          all.down_bias.expert(e, c.N), c.Ne};
}

// The routed experts on this layer's assignments; a.exp_out receives their outputs in x_perm's
// layout. Under expert parallelism the rows go to the ranks holding their experts and back.
template <typename T>
void experts_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a) {
  const ModelConfig& c = ctx.config;
  const int64_t N = c.N, up = c.up_cols(c.Ne);
  const bool swiglu = c.act == Activation::swiglu;
  const auto run = [&](const std::vector<int64_t>& offsets, int64_t experts, const T* x, T* out) {
    for_each_expert(offsets, experts, [&](int64_t e, int64_t p0, int64_t rows) {
      const MlpBuffers<T> buf{a.exp_pre.data() + p0 * up, a.exp_act.data() + p0 * c.Ne};
      mlp_forward<T>(out + p0 * N, buf, x + p0 * N, rows, N, expert_slice(c, w.experts, e), swiglu,
                     Accumulate::no);
    });
  };
  ExpertDispatch<T>* remote = ctx.experts;
  if (!remote) {
    run(a.routing.offsets, c.M, a.x_perm.data(), a.exp_out.data());
    return;
  }
  std::optional<PhaseScope> scope(std::in_place, Phase::permutation);
  remote->dispatch(a.routing.offsets, a.x_perm.data(), a.routes, a.expert_in);
  const int64_t rows = a.routes.rows_in;
  grow_to(a.exp_pre, rows * up);
  grow_to(a.exp_act, rows * c.Ne);
  T* out = remote->expert_rows(rows);
  scope.emplace(Phase::experts);
  run(a.routes.local_offsets, remote->experts_held(), a.expert_in.data(), out);
  scope.emplace(Phase::permutation);
  remote->send_back(a.routes, out, a.exp_out.data());
}

// The backward of experts_forward: dexp_out [R*K, N] in x_perm's layout in, and out d loss / d
// x_perm, written over x_perm. The backward scratch is the layer's own forward buffers: each
// expert overwrites its rows of exp_pre and exp_act with their gradients (mlp_backward) and its
// rows of x_perm with their input gradients, all dead once this expert has read them (by
// position, so experts running side by side never share a row).
template <typename T>
void experts_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a,
                      const T* dexp_out) {
  const ModelConfig& c = ctx.config;
  const int64_t N = c.N, up = c.up_cols(c.Ne);
  const bool swiglu = c.act == Activation::swiglu;
  const auto run = [&](const std::vector<int64_t>& offsets, int64_t experts, const T* x,
                       const T* dout, T* dx) {
    for_each_expert(offsets, experts, [&](int64_t e, int64_t p0, int64_t rows) {
      const MlpBuffers<T> buf{a.exp_pre.data() + p0 * up, a.exp_act.data() + p0 * c.Ne};
      mlp_backward<T>(dx + p0 * N, Accumulate::no, dout + p0 * N, x + p0 * N, buf, rows, N,
                      expert_slice(c, w.experts, e), swiglu);
    });
  };
  ExpertDispatch<T>* remote = ctx.experts;
  if (!remote) {
    run(a.routing.offsets, c.M, a.x_perm.data(), dexp_out, a.x_perm.data());
    return;
  }
  std::optional<PhaseScope> scope(std::in_place, Phase::permutation);
  const int64_t rows = a.routes.rows_in;
  T* dout = remote->expert_rows(rows);
  T* dx = remote->expert_grads(rows);
  remote->send(a.routes, dexp_out, dout);
  scope.emplace(Phase::experts);
  run(a.routes.local_offsets, remote->experts_held(), a.expert_in.data(), dout, dx);
  scope.emplace(Phase::permutation);
  remote->send_back(a.routes, dx, a.x_perm.data());
}

// r.totals (activations.h) over the token group: this process's sums, then one allreduce.
template <typename T>
void routing_totals(const BlockContext<T>& ctx, RoutingActs<T>& r) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), M = c.M;
  std::vector<double>& t = r.totals;
  for (int64_t e = 0; e < M; ++e) t[e] = double(r.offsets[e + 1] - r.offsets[e]);
  if (c.aux_weight > 0) {
    for (int64_t e = 0; e < M; ++e) {
      double P = 0;
      for (int64_t i = 0; i < R; ++i) P += r.aux_probs[i * M + e];
      t[M + e] = P;
    }
  }
  double sq = 0;
  for (const T v : r.logits) sq += double(v) * v;
  t[2 * M] = sq;
  double z = 0;
  for (const T v : r.logsumexp) z += double(v) * v;
  t[2 * M + 1] = z;
  t[2 * M + 2] = double(R);
  if (ctx.tokens) ctx.tokens->allreduce_sum(std::span<double>(t));
}

}  // namespace

template <typename T>
void moe_forward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a, const T* x,
                 T* y, RoutingStats& stats) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N, M = c.M, K = c.K;
  const bool swiglu = c.act == Activation::swiglu;
  RoutingActs<T>& r = a.routing;
  {
    PhaseScope scope(Phase::router);
    route(ctx, w, r, x);
  }
  {
    PhaseScope scope(Phase::permutation);
    gather_assignments<T>(a.x_perm.data(), x, r.order.data(), R, K, N);
  }
  {
    PhaseScope scope(Phase::experts);
    experts_forward(ctx, w, a);
  }
  {
    PhaseScope scope(Phase::permutation);
    // y = aggregation_mult * sum_k w(gate_k) expert_k(x), w the identity or the square root
    // (SqrtGate); the weights are formed on the fly.
    const T agg = T(ctx.plan.aggregation_mult);
    if (c.gate_fn == GateFn::sqrt) {
      for (size_t i = 0; i < r.gates.size(); ++i) r.combine_weight[i] = agg * std::sqrt(r.gates[i]);
    } else {
      for (size_t i = 0; i < r.gates.size(); ++i) r.combine_weight[i] = agg * r.gates[i];
    }
    combine_assignments<T>(y, a.exp_out.data(), r.combine_weight.data(), r.position.data(), R, K, N,
                           Accumulate::no);
  }
  if (c.shared_experts > 0) {
    PhaseScope scope(Phase::experts);
    for (int64_t s = 0; s < c.shared_experts; ++s)
      mlp_forward<T>(y, shared_buffers(c, a, s, R), x, R, N, shared_slice(c, w.shared, s), swiglu,
                     Accumulate::yes);
  }

  PhaseScope scope(Phase::router);
  routing_totals(ctx, r);
  const std::vector<double>& t = r.totals;
  const int64_t rows = int64_t(t[2 * M + 2]);
  stats.tokens = rows;
  stats.counts.resize(size_t(M));
  for (int64_t e = 0; e < M; ++e) stats.counts[e] = int64_t(t[e]);
  stats.logit_rms = std::sqrt(t[2 * M] / double(rows * M));
  stats.aux_loss = 0;
  if (c.aux_weight > 0) {
    // Switch: M * sum_i f_i P_i with f_i the fraction of assignments to expert i.
    double sum = 0;
    for (int64_t e = 0; e < M; ++e) sum += t[e] / double(rows * K) * (t[M + e] / rows);
    stats.aux_loss = c.aux_weight * M * sum;
  }
  stats.z_loss = 0;
  if (c.z_weight > 0) stats.z_loss = c.z_weight * t[2 * M + 1] / rows;
}

template <typename T>
void moe_backward(const BlockContext<T>& ctx, const BlockWeights<T>& w, FfnActs<T>& a, const T* x,
                  const T* dy, T* dx, T loss_scale, BackwardScratch<T>& s) {
  const ModelConfig& c = ctx.config;
  const int64_t R = ctx.R(), N = c.N, K = c.K, A = R * K;
  const bool swiglu = c.act == Activation::swiglu;
  const RoutingActs<T>& r = a.routing;
  const T agg = T(ctx.plan.aggregation_mult);

  // Shared experts see every token with weight 1; they start dx.
  if (c.shared_experts > 0) {
    PhaseScope scope(Phase::experts);
    std::fill(dx, dx + R * N, T(0));
    for (int64_t sh = 0; sh < c.shared_experts; ++sh)
      mlp_backward<T>(dx, Accumulate::yes, dy, x, shared_buffers(c, a, sh, R), R, N,
                      shared_slice(c, w.shared, sh), swiglu);
  }

  std::optional<PhaseScope> scope(std::in_place, Phase::permutation);
  // Per assignment a = (row, slot) at position p: d expert_out = agg * w(gate) * dy[row], and
  // d gate = agg * w'(gate) * <dy[row], expert_out> (w' = 1, or 1 / (2 sqrt(gate)) for SqrtGate).
  // d expert_out is written over expert_out, each entry after its one read.
  const bool sqrt_gate = c.gate_fn == GateFn::sqrt;
  T* dexp_out = a.exp_out.data();
  T* dgates = s.dgates.data();
#pragma omp parallel for schedule(static) if (worth_parallel(A * N))
  for (int64_t p = 0; p < A; ++p) {
    const int64_t asg = r.order[p], row = asg / K;
    const T* d = dy + row * N;
    T* out_to_dout = dexp_out + p * N;
    const T scale = r.combine_weight[asg];
    T dot = 0;
    // A vector reduction: summed in order, this dot product was a chain of scalar adds that
    // cost more than the copy beside it (tiny bench: ~1/3 of the permutation phase).
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < N; ++j) {
      dot += d[j] * out_to_dout[j];
      out_to_dout[j] = scale * d[j];
    }
    dgates[asg] = sqrt_gate ? agg * dot * (T(0.5) / std::sqrt(r.gates[asg])) : agg * dot;
  }
  scope.emplace(Phase::experts);
  experts_backward(ctx, w, a, dexp_out);
  scope.emplace(Phase::permutation);
  // Without shared experts this is the first write of dx.
  combine_assignments<T>(dx, a.x_perm.data(), nullptr, r.position.data(), R, K, N,
                         Accumulate{c.shared_experts > 0});

  // The gates' gradients flow back through the router, whose share of dx is added last.
  scope.emplace(Phase::router);
  route_backward(ctx, w, r, x, dgates, dx, loss_scale, s);
}

#define MOET_INSTANTIATE(T)                                                                  \
  template void allocate_moe<T>(FfnActs<T>&, const ModelConfig&, int64_t);                   \
  template void moe_forward<T>(const BlockContext<T>&, const BlockWeights<T>&, FfnActs<T>&,  \
                               const T*, T*, RoutingStats&);                                 \
  template void moe_backward<T>(const BlockContext<T>&, const BlockWeights<T>&, FfnActs<T>&, \
                                const T*, const T*, T*, T, BackwardScratch<T>&);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
