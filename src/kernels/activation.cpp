#include "kernels/activation.h"

#include <cmath>

#include "kernels/fast_math.h"
#include "kernels/parallel.h"

namespace moet {

namespace {
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;
}  // namespace

// Double: the tanh form exactly as written, the reference the gradient checks trust.
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

// Float: 0.5 x (1 + tanh u) = x sigmoid(2u) = x / (1 + exp(-2u)), the same function with one exp
// and one division and no cancellation for negative x (1 + tanh u loses digits there); the
// derivative is s + 2 x s (1 - s) u' with s = sigmoid(2u) and 1 - s = exp(-2u) s.
#ifdef MOET_SIMD
namespace {

struct GeluParts {
  simd::V x, s, one_minus_s;
};

inline GeluParts gelu_parts(simd::V x) {
  using namespace simd;
  const V u = mul(mul(x, broadcast(float(kSqrt2OverPi))),
                  fma(mul(x, x), broadcast(float(kGeluCubic)), broadcast(1.0f)));
  const V e = fast::exp(mul(u, broadcast(-2.0f)));
  const V s = div(broadcast(1.0f), add(broadcast(1.0f), e));
  return {x, s, mul(e, s)};
}

inline simd::V gelu_grad(const GeluParts& g) {
  using namespace simd;
  const V du = mul(broadcast(float(2 * kSqrt2OverPi)),
                   fma(mul(g.x, g.x), broadcast(float(3 * kGeluCubic)), broadcast(1.0f)));
  return fma(mul(mul(g.x, g.s), g.one_minus_s), du, g.s);
}

}  // namespace

template <>
void gelu_forward<float>(float* out, const float* in, int64_t n) {
#pragma omp parallel for schedule(static) if (worth_parallel(n))
  for (int64_t i = 0; i < n; i += simd::kLanes) {
    const simd::Mask m = simd::first(n - i);
    const GeluParts g = gelu_parts(simd::load(m, in + i));
    simd::store(out + i, m, simd::mul(g.x, g.s));
  }
}

template <>
void gelu_backward<float>(float* din, const float* dout, const float* in, int64_t n) {
#pragma omp parallel for schedule(static) if (worth_parallel(n))
  for (int64_t i = 0; i < n; i += simd::kLanes) {
    const simd::Mask m = simd::first(n - i);
    const GeluParts g = gelu_parts(simd::load(m, in + i));
    simd::store(din + i, m, simd::mul(simd::load(m, dout + i), gelu_grad(g)));
  }
}
#endif

template <typename T>
void bias_gelu_forward(T* out, T* pre, ScaledVector<T> bias, int64_t rows, int64_t F) {
  const T* b = bias.value;
  const T bm = bias.mult;
#pragma omp parallel for schedule(static) if (worth_parallel(rows * F))
  for (int64_t r = 0; r < rows; ++r) {
    T* p = pre + r * F;
#pragma omp simd
    for (int64_t c = 0; c < F; ++c) p[c] += bm * b[c];
    gelu_forward<T>(out + r * F, p, F);  // the row is still in L1; runs serially in here
  }
}

namespace {

// exp(-x) in the precision of T: the fast one for float.
inline float exp_neg(float x) { return fast::exp(-x); }
inline double exp_neg(double x) { return std::exp(-x); }

}  // namespace

template <typename T>
void swiglu_forward(T* out, const T* in, int64_t rows, int64_t F) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * F))
  for (int64_t r = 0; r < rows; ++r) {
    const T* gate = in + r * 2 * F;
    const T* up = gate + F;
    T* o = out + r * F;
#pragma omp simd
    for (int64_t j = 0; j < F; ++j) {
      const T sig = T(1) / (T(1) + exp_neg(gate[j]));
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
#pragma omp simd
    for (int64_t j = 0; j < F; ++j) {
      // Both inputs are read before either gradient is written: din may be in.
      const T g = gate[j], u = up[j];
      const T sig = T(1) / (T(1) + exp_neg(g));
      const T silu = g * sig;
      dup[j] = d[j] * silu;
      dgate[j] = d[j] * u * sig * (T(1) + g * (T(1) - sig));
    }
  }
}

#define MOET_INSTANTIATE(T)                                                      \
  template void gelu_forward<T>(T*, const T*, int64_t);                          \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);               \
  template void bias_gelu_forward<T>(T*, T*, ScaledVector<T>, int64_t, int64_t); \
  template void swiglu_forward<T>(T*, const T*, int64_t, int64_t);               \
  template void swiglu_backward<T>(T*, const T*, const T*, int64_t, int64_t);
MOET_INSTANTIATE(float)
MOET_INSTANTIATE(double)
#undef MOET_INSTANTIATE

}  // namespace moet
