// ScaledVector: a parameter vector — a bias, a norm gain, the balancing bias — together with the
// forward multiplier it acts with, as the parameterization resolved it.
//
// Forward, the layer uses mult * value (y += mult * b, y = xhat * (mult * g), the choice on
// score + mult * b); backward, the stored vector's gradient gets mult times the gradient of
// that product. Kernels take a ScaledVector instead of a bare pointer so that no call site can
// hand over a vector without saying what it is multiplied by. With mult == 1 every kernel gives
// the same bits as without a multiplier (1 * b is exact, and fma(1, b, y) = y + b).
#pragma once

namespace moet {

template <typename T>
struct ScaledVector {
  const T* value = nullptr;  // null: the layer has no such vector
  T* grad = nullptr;         // backward adds into it; null: no gradient wanted
  T mult = 1;

  explicit operator bool() const { return value != nullptr; }
};

}  // namespace moet
