#include "core/profile.h"

#include <omp.h>

#include <chrono>

#include "core/error.h"

namespace moet {

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::embed: return "embed";
    case Phase::norms: return "norms";
    case Phase::attn_proj: return "attn_proj";
    case Phase::attn_core: return "attn_core";
    case Phase::router: return "router";
    case Phase::permutation: return "permutation";
    case Phase::experts: return "experts";
    case Phase::dense_ffn: return "dense_ffn";
    case Phase::residual: return "residual";
    case Phase::readout: return "readout";
    case Phase::optimizer: return "optimizer";
    case Phase::communication: return "communication";
    case Phase::other: return "other";
    case Phase::count: break;
  }
  return "?";
}

namespace profile {
namespace {

using Clock = std::chrono::steady_clock;

// Scopes nest a few deep at most (block > sublayer > kernel).
constexpr int kMaxDepth = 16;

struct State {
  std::array<double, size_t(Phase::count)> seconds{};
  Phase stack[kMaxDepth];
  int depth = 0;
  Clock::time_point last, start;
};

State& state() {
  static State s;
  return s;
}

// Charges the time since the last switch to the phase on top of the stack (or other).
void charge(State& s, Clock::time_point now) {
  const Phase current = s.depth > 0 ? s.stack[s.depth - 1] : Phase::other;
  s.seconds[size_t(current)] += std::chrono::duration<double>(now - s.last).count();
  s.last = now;
}

}  // namespace

void set_enabled(bool enabled) {
  g_enabled = enabled;
  reset();
}

void reset() {
  State& s = state();
  s.seconds.fill(0.0);
  s.depth = 0;
  s.start = s.last = Clock::now();
}

std::array<double, size_t(Phase::count)> seconds() {
  State& s = state();
  charge(s, Clock::now());
  return s.seconds;
}

void enter(Phase phase) {
  State& s = state();
  // Only the thread that drives the step times phases; other threads' scopes are no-ops.
  if (omp_in_parallel() || omp_get_thread_num() != 0) return;
  MOET_CHECK(s.depth < kMaxDepth);
  charge(s, Clock::now());
  s.stack[s.depth++] = phase;
}

void leave() {
  State& s = state();
  if (omp_in_parallel() || omp_get_thread_num() != 0) return;
  MOET_CHECK(s.depth > 0);
  charge(s, Clock::now());
  --s.depth;
}

}  // namespace profile
}  // namespace moet
