#include "model/mlp.h"

#include "kernels/activation.h"
#include "kernels/linear.h"

namespace moet {

template <typename T>
void mlp_forward(T* out, const MlpBuffers<T>& buf, const T* x, int64_t rows, int64_t N,
                 const MlpWeights<T>& w, bool swiglu, Accumulate accumulate) {
  const int64_t F = w.hidden, up_cols = swiglu ? 2 * F : F;
  // GELU takes the up-projection's bias in its own pass (one pass over pre instead of two).
  const bool fuse_bias = !swiglu && w.up_bias;
  linear_forward<T>(buf.pre, x, w.up.value, fuse_bias ? ScaledVector<T>{} : w.up_bias.scaled(),
                    rows, N, up_cols, w.up.mult, Accumulate::no, w.up.bf16);
  if (swiglu)
    swiglu_forward<T>(buf.act, buf.pre, rows, F);
  else if (fuse_bias)
    bias_gelu_forward<T>(buf.act, buf.pre, w.up_bias.scaled(), rows, F);
  else
    gelu_forward<T>(buf.act, buf.pre, rows * F);
  linear_forward<T>(out, buf.act, w.down.value, w.down_bias.scaled(), rows, F, N, w.down.mult,
                    accumulate, w.down.bf16);
}

template <typename T>
void mlp_backward(T* dx, Accumulate accumulate_dx, const T* dout, const T* x,
                  const MlpBuffers<T>& buf, int64_t rows, int64_t N, const MlpWeights<T>& w,
                  bool swiglu) {
  const int64_t F = w.hidden, up_cols = swiglu ? 2 * F : F;
  // In place: linear_backward reads act (for d W_down) before it writes d act, and the
  // activations' backward reads each pre-activation before writing its gradient.
  T* dact = buf.act;
  T* dpre = buf.pre;
  linear_backward<T>(dact, w.down.grad, w.down_bias.scaled(), dout, buf.act, w.down.value, rows, F,
                     N, w.down.mult, Accumulate::no, w.down.bf16);
  if (swiglu)
    swiglu_backward<T>(dpre, dact, buf.pre, rows, F);
  else
    gelu_backward<T>(dpre, dact, buf.pre, rows * F);
  linear_backward<T>(dx, w.up.grad, w.up_bias.scaled(), dpre, x, w.up.value, rows, N, up_cols,
                     w.up.mult, accumulate_dx, w.up.bf16);
}

template void mlp_forward<float>(float*, const MlpBuffers<float>&, const float*, int64_t, int64_t,
                                 const MlpWeights<float>&, bool, Accumulate);
template void mlp_forward<double>(double*, const MlpBuffers<double>&, const double*, int64_t,
                                  int64_t, const MlpWeights<double>&, bool, Accumulate);
template void mlp_backward<float>(float*, Accumulate, const float*, const float*,
                                  const MlpBuffers<float>&, int64_t, int64_t,
                                  const MlpWeights<float>&, bool);
template void mlp_backward<double>(double*, Accumulate, const double*, const double*,
                                   const MlpBuffers<double>&, int64_t, int64_t,
                                   const MlpWeights<double>&, bool);

}  // namespace moet
