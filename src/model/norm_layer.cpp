#include "model/norm_layer.h"

#include "core/profile.h"
#include "kernels/norm.h"

namespace moet {

template <typename T>
void norm_forward(const ModelConfig& c, const NormWeights<T>& w, NormActs<T>& a, const T* x,
                  int64_t rows) {
  PhaseScope scope(Phase::norms);
  if (c.norm == NormKind::layernorm)
    layernorm_forward<T>(a.out.data(), a.mean.data(), a.rstd.data(), x, w.gain.scaled(),
                         w.bias.scaled(), rows, c.N, c.norm_eps);
  else
    rmsnorm_forward<T>(a.out.data(), a.rstd.data(), x, w.gain.scaled(), rows, c.N, c.norm_eps);
}

template <typename T>
void residual_norm_forward(const ModelConfig& c, const NormWeights<T>& w, NormActs<T>& a, T* h_out,
                           const T* h_in, const T* branch, T residual_mult, int64_t rows) {
  PhaseScope scope(Phase::norms);
  if (c.norm == NormKind::layernorm)
    add_layernorm_forward<T>(h_out, h_in, branch, residual_mult, a.out.data(), a.mean.data(),
                             a.rstd.data(), w.gain.scaled(), w.bias.scaled(), rows, c.N,
                             c.norm_eps);
  else
    add_rmsnorm_forward<T>(h_out, h_in, branch, residual_mult, a.out.data(), a.rstd.data(),
                           w.gain.scaled(), rows, c.N, c.norm_eps);
}

template <typename T>
void norm_backward(const ModelConfig& c, const NormWeights<T>& w, const NormActs<T>& a, T* dx,
                   const T* dout, const T* x, int64_t rows) {
  PhaseScope scope(Phase::norms);
  if (c.norm == NormKind::layernorm)
    layernorm_backward<T>(dx, w.gain.scaled(), w.bias.scaled(), dout, x, a.mean.data(),
                          a.rstd.data(), rows, c.N);
  else
    rmsnorm_backward<T>(dx, w.gain.scaled(), dout, x, a.rstd.data(), rows, c.N);
}

template void norm_forward<float>(const ModelConfig&, const NormWeights<float>&, NormActs<float>&,
                                  const float*, int64_t);
template void norm_forward<double>(const ModelConfig&, const NormWeights<double>&,
                                   NormActs<double>&, const double*, int64_t);
template void residual_norm_forward<float>(const ModelConfig&, const NormWeights<float>&,
                                           NormActs<float>&, float*, const float*, const float*,
                                           float, int64_t);
template void residual_norm_forward<double>(const ModelConfig&, const NormWeights<double>&,
                                            NormActs<double>&, double*, const double*,
                                            const double*, double, int64_t);
template void norm_backward<float>(const ModelConfig&, const NormWeights<float>&,
                                   const NormActs<float>&, float*, const float*, const float*,
                                   int64_t);
template void norm_backward<double>(const ModelConfig&, const NormWeights<double>&,
                                    const NormActs<double>&, double*, const double*, const double*,
                                    int64_t);

}  // namespace moet
