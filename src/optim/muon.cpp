#include "optim/muon.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/gemm.h"

namespace moet {

namespace {

// The quintic's coefficients from Muon's reference implementation (K. Jordan): chosen to push
// every singular value in (0, 1] towards 1 quickly rather than to converge exactly.
constexpr float kA = 3.4445f, kB = -4.7750f, kC = 2.0315f;
// Muon's reference normalises by ||u||_F + 1e-7, so a zero update stays zero.
constexpr double kNormFloor = 1e-7;

double frobenius(const float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * x[i];
  return std::sqrt(sum);
}

}  // namespace

void newton_schulz_orthogonalise(float* x, int64_t rows, int64_t cols, int steps, float* work) {
  MOET_CHECK(rows <= cols);
  const int64_t n = rows * cols;
  const float inv_norm = float(1.0 / (frobenius(x, n) + kNormFloor));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv_norm;
  float* a = work;                // x x^T, rows x rows
  float* b = a + rows * rows;     // kB a + kC a a
  float* next = b + rows * rows;  // kA x + b x
  for (int s = 0; s < steps; ++s) {
    gemm<float>(Transpose::no, Transpose::yes, rows, rows, cols, 1.0f, x, cols, x, cols, 0.0f, a,
                rows);
    gemm<float>(Transpose::no, Transpose::no, rows, rows, rows, kC, a, rows, a, rows, 0.0f, b,
                rows);
    for (int64_t i = 0; i < rows * rows; ++i) b[i] += kB * a[i];
    gemm<float>(Transpose::no, Transpose::no, rows, cols, rows, 1.0f, b, rows, x, cols, 0.0f, next,
                cols);
    for (int64_t i = 0; i < n; ++i) x[i] = next[i] + kA * x[i];
  }
}

MuonUpdate::MuonUpdate(const OptimConfig& config, const std::vector<TensorInfo>& tensors,
                       const std::vector<param::TensorHyper>& hyper)
    : config_(config), hyper_(hyper) {
  MOET_CHECK(hyper_.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (!t.trainable || !hyper_[i].orthogonalised) continue;
    // [in, out] or [experts, in, out]: the last two axes are the matrix.
    MOET_CHECK(t.shape.size() >= 2);
    const int64_t rows = t.shape[t.shape.size() - 2], ld = t.shape.back();
    const int blocks = hyper_[i].column_blocks;
    MOET_CHECK(blocks >= 1 && ld % blocks == 0);
    const int64_t slices = t.numel / (rows * ld), cols = ld / blocks;
    for (int64_t e = 0; e < slices; ++e)
      for (int blk = 0; blk < blocks; ++blk)
        matrices_.push_back({t.offset + e * rows * ld + blk * cols, rows, cols, ld, int(i)});
  }
}

void MuonUpdate::step_matrix(const Matrix& mat, float* params, const float* grads, float* momentum,
                             double lr_factor, float grad_scale, std::vector<float>& work) const {
  const param::TensorHyper& h = hyper_[size_t(mat.tensor)];
  const int64_t rows = mat.rows, cols = mat.cols;
  // Newton-Schulz runs on the wide orientation (small Gram matrix); O^T's iterate is O's.
  const bool transposed = rows > cols;
  const int64_t r = std::min(rows, cols), c = std::max(rows, cols);
  work.resize(size_t(2 * r * r + 2 * r * c));
  float* u = work.data() + 2 * r * r + r * c;
  const float mu = float(config_.muon_momentum);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t at = mat.offset + i * mat.ld + j;
      const float g = grad_scale * grads[at];
      momentum[at] = mu * momentum[at] + (1 - mu) * g;
      u[transposed ? j * rows + i : i * cols + j] =
          config_.muon_nesterov ? (1 - mu) * g + mu * momentum[at] : momentum[at];
    }
  newton_schulz_orthogonalise(u, r, c, config_.muon_steps, work.data());

  const double lr = h.lr * lr_factor;
  const auto each = [&](auto&& f) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        f(params[mat.offset + i * mat.ld + j], u[transposed ? j * rows + i : i * cols + j]);
  };
  double w_norm = 0, o_norm = 0;
  if (h.norm_preserved) {
    each([&](float w, float o) { w_norm += double(w) * w, o_norm += double(o) * o; });
    w_norm = std::sqrt(w_norm), o_norm = std::sqrt(o_norm);
  }
  const float decay = float(1 - lr * h.wd);
  const float step = float(h.norm_preserved && o_norm > 0 ? lr * w_norm / o_norm : lr);
  each([&](float& w, float o) { w = decay * w - step * o; });
  if (!h.norm_preserved) return;
  double new_norm = 0;
  each([&](float w, float) { new_norm += double(w) * w; });
  if (!(new_norm > 0)) return;
  const float back = float(w_norm / std::sqrt(new_norm));
  each([&](float& w, float) { w *= back; });
}

void MuonUpdate::step(float* params, const float* grads, float* momentum, double lr_factor,
                      double grad_scale) const {
  // One matrix per thread; gemm inside a parallel region runs on the calling thread, and each
  // matrix's arithmetic does not depend on which thread does it (deterministic).
#pragma omp parallel
  {
    std::vector<float> work;
#pragma omp for schedule(dynamic, 1)
    for (size_t k = 0; k < matrices_.size(); ++k)
      step_matrix(matrices_[k], params, grads, momentum, lr_factor, float(grad_scale), work);
  }
}

}  // namespace moet
