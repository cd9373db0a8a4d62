#include "kernels/activation.h"

#include <cmath>

#include "kernels/parallel.h"

namespace moet {

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

template <typename T>
void gelu_forward(T* out, const T* in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (worth_parallel(n))
  for (int64_t i = 0; i < n; ++i) {
    const T x = in[i];
    const T inner = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    out[i] = T(0.5) * x * (T(1) + std::tanh(inner));
  }
}

template <typename T>
void gelu_backward(T* din, const T* dout, const T* in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (worth_parallel(n))
  for (int64_t i = 0; i < n; ++i) {
    const T x = in[i];
    const T inner = T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x);
    const T th = std::tanh(inner);
    const T dinner = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * x * x);
    din[i] = dout[i] * (T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * dinner);
  }
}

template <typename T>
void swiglu_forward(T* out, const T* in, int64_t rows, int64_t F) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * F))
  for (int64_t r = 0; r < rows; ++r) {
    const T* gate = in + r * 2 * F;
    const T* up = gate + F;
    T* o = out + r * F;
    for (int64_t j = 0; j < F; ++j) {
      const T sig = T(1) / (T(1) + std::exp(-gate[j]));
      o[j] = gate[j] * sig * up[j];
    }
  }
}

template <typename T>
void swiglu_backward(T* din, const T* dout, const T* in, int64_t rows, int64_t F) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * F))
  for (int64_t r = 0; r < rows; ++r) {
    const T* gate = in + r * 2 * F;
    const T* up = gate + F;
    const T* d = dout + r * F;
    T* dgate = din + r * 2 * F;
    T* dup = dgate + F;
    for (int64_t j = 0; j < F; ++j) {
      const T sig = T(1) / (T(1) + std::exp(-gate[j]));
      const T silu = gate[j] * sig;
      dup[j] = d[j] * silu;
      dgate[j] = d[j] * up[j] * sig * (T(1) + gate[j] * (T(1) - sig));
    }
  }
}

#define MOET_INSTANTIATE(T)                                                   \
  template void gelu_forward<T>(T*, const T*, int64_t);                       \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);            \
  template void swiglu_forward<T>(T*, const T*, int64_t, int64_t);            \
  template void swiglu_backward<T>(T*, const T*, const T*, int64_t, int64_t);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
