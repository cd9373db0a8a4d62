#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moet {

namespace {
constexpr int64_t kChunk = 1 << 15;
}

Optimizer::Optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
                     std::vector<param::TensorHyper> hyper)
    : Optimizer(config, tensors, std::move(hyper), {0, total_numel(tensors)}) {}

Optimizer::Optimizer(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
                     std::vector<param::TensorHyper> hyper, FlatRange owned)
    : config_(config), hyper_(std::move(hyper)), owned_(owned), muon_(config, tensors, hyper_) {
  MOET_CHECK(muon_.empty() || (owned.begin == 0 && owned.end == total_numel(tensors)));
  MOET_CHECK(hyper_.size() == tensors.size());
  MOET_CHECK(owned.begin >= 0 && owned.begin <= owned.end && owned.end <= total_numel(tensors));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    const int64_t first = std::max(t.offset, owned.begin);
    const int64_t last = std::min(t.offset + t.numel, owned.end);
    if (!t.trainable) continue;
    for (int64_t b = first; b < last; b += kChunk)
      chunks_.push_back({b, std::min(last, b + kChunk), int(i)});
  }
  m_.assign(size_t(owned.size()), 0.0f);
  if (config_.is_adam()) v_.assign(size_t(owned.size()), 0.0f);
}

double Optimizer::grad_square_sum(const float* grads) const {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (size_t c = 0; c < chunks_.size(); ++c) {
    // Vector lanes per chunk, then chunks in a fixed order per thread: deterministic.
    const float* g = grads + (chunks_[c].begin - owned_.begin);
    const int64_t count = chunks_[c].end - chunks_[c].begin;
    double chunk_sum = 0;
#pragma omp simd reduction(+ : chunk_sum)
    for (int64_t i = 0; i < count; ++i) chunk_sum += double(g[i]) * g[i];
    sum += chunk_sum;
  }
  return sum;
}

double Optimizer::grad_norm(const float* grads) const { return std::sqrt(grad_square_sum(grads)); }

void Optimizer::step(float* params, const float* grads, double lr_factor, double grad_scale) {
  ++steps_;
  const OptimConfig& c = config_;
  const double bias1 = 1 - std::pow(c.beta1, double(steps_));
  const double bias2 = 1 - std::pow(c.beta2, double(steps_));
  const bool adam = c.is_adam();
  const bool decoupled = c.kind == OptimizerKind::adamw || c.kind == OptimizerKind::muon;
  const float b1 = float(c.beta1), b2 = float(c.beta2), momentum = float(c.momentum);
  const float gs = float(grad_scale);
#pragma omp parallel for schedule(static)
  for (size_t ci = 0; ci < chunks_.size(); ++ci) {
    const Chunk& ch = chunks_[ci];
    const param::TensorHyper& h = hyper_[size_t(ch.tensor)];
    if (h.orthogonalised) continue;  // muon_ below
    const float lr = float(h.lr * lr_factor), wd = float(h.wd);
    // The chunk's parameters, gradients and moments, indexed from the chunk's first element.
    const int64_t local = ch.begin - owned_.begin, count = ch.end - ch.begin;
    float* w = params + ch.begin;
    const float* grad = grads + local;
    float* m = m_.data() + local;
    if (adam) {
      float* v = v_.data() + local;
      // Bias corrections folded into the step size and epsilon (as PyTorch's Adam does).
      const float step_size = float(h.lr * lr_factor / bias1);
      const float sqrt_bias2 = float(std::sqrt(bias2));
      const float eps = float(h.eps);
      const float decay = decoupled ? 1.0f - lr * wd : 1.0f;
      const float l2 = decoupled ? 0.0f : wd;
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) {
        const float g = gs * grad[i] + l2 * w[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        w[i] = decay * w[i] - step_size * m[i] / (std::sqrt(v[i]) / sqrt_bias2 + eps);
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) {
        const float g = gs * grad[i] + wd * w[i];
        m[i] = momentum * m[i] + g;
        w[i] -= lr * (momentum > 0 ? m[i] : g);
      }
    }
  }
  if (!muon_.empty()) muon_.step(params, grads, m_.data(), lr_factor, grad_scale);
}

}  // namespace moet
