// The model's norm (LayerNorm or RMSNorm by model.norm) over [rows, N], forward and backward.
// Backward adds into dx and into the gain/bias gradients (kernels/norm.h conventions).
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace moet {

template <typename T>
struct NormActs {
  std::vector<T> out, mean, rstd;  // mean is unused by RMSNorm
  void resize(int64_t rows, int64_t N) {
    out.assign(size_t(rows * N), T(0));
    mean.assign(size_t(rows), T(0));
    rstd.assign(size_t(rows), T(0));
  }
};

template <typename T>
void norm_forward(const ModelConfig& c, const NormWeights<T>& w, NormActs<T>& a, const T* x,
                  int64_t rows);
// h_out = h_in + residual_mult * branch, then the norm of h_out into a, in one pass over each
// row (kernels/norm.h): a sublayer's residual add fused with the norm the next sublayer (or the
// readout) starts with; the same bits as the add followed by norm_forward.
template <typename T>
void residual_norm_forward(const ModelConfig& c, const NormWeights<T>& w, NormActs<T>& a, T* h_out,
                           const T* h_in, const T* branch, T residual_mult, int64_t rows);
template <typename T>
void norm_backward(const ModelConfig& c, const NormWeights<T>& w, const NormActs<T>& a, T* dx,
                   const T* dout, const T* x, int64_t rows);

}  // namespace moet
