// Phase timers: where a training step spends its wall-clock time, for `moet bench`.
//
// Code marks a region with `PhaseScope scope(Phase::attention);`. Timing is exclusive: a nested
// scope pauses its enclosing one, so the phases add up to the timed total and nothing is counted
// twice. Off by default; while off a scope is one load and one branch (no clock read), so the
// model keeps its scopes in release builds. Scopes belong on the thread that drives the step,
// outside OpenMP parallel regions (a scope entered on another thread is ignored).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace moet {

enum class Phase : int {
  embed,        // token/position embeddings, forward and backward
  norms,        // LayerNorm/RMSNorm, qk-norm
  attn_proj,    // q, k, v and output projections
  attn_core,    // scores, softmax, probs x V (and RoPE)
  router,       // router projection, scores, top-K, gates, aux/z losses
  permutation,  // grouping tokens by expert, gather and combine
  experts,      // routed and shared expert MLPs (GEMMs and activation)
  dense_ffn,    // dense FFN blocks
  residual,     // residual adds and branch scaling
  readout,      // final projection, softmax and cross-entropy
  optimizer,
  communication,  // collectives between data-parallel ranks (gradients, parameters, statistics)
  other,          // the rest of the timed region (data, zeroing gradients, bookkeeping)
  count
};

std::string_view phase_name(Phase phase);

namespace profile {

// The hot-path check, inline so a disabled scope costs one load and branch.
inline bool g_enabled = false;

void set_enabled(bool enabled);  // also resets the totals
inline bool enabled() { return g_enabled; }
// Starts the wall clock of the timed region; time inside no scope is charged to Phase::other.
void reset();
// Seconds per phase since reset(), with Phase::other holding the unscoped remainder.
std::array<double, size_t(Phase::count)> seconds();

void enter(Phase phase);
void leave();

}  // namespace profile

class PhaseScope {
 public:
  explicit PhaseScope(Phase phase) : active_(profile::g_enabled) {
    if (active_) profile::enter(phase);
  }
  ~PhaseScope() {
    if (active_) profile::leave();
  }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  const bool active_;
};

}  // namespace moet
