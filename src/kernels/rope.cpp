#include "kernels/rope.h"

#include <cmath>

#include "kernels/parallel.h"

namespace moet {

template <typename T>
RopeTable<T> make_rope_table(int64_t seq, int64_t d, double base) {
  RopeTable<T> table;
  table.seq = seq;
  table.half = d / 2;
  table.cos.resize(size_t(seq * table.half));
  table.sin.resize(size_t(seq * table.half));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t i = 0; i < table.half; ++i) {
      const double angle = double(t) * std::pow(base, -2.0 * double(i) / double(d));
      table.cos[t * table.half + i] = T(std::cos(angle));
      table.sin[t * table.half + i] = T(std::sin(angle));
    }
  return table;
}

namespace {
template <typename T>
void rotate(T* x, const RopeTable<T>& table, int64_t B, int64_t H, T direction) {
  const int64_t half = table.half, d = 2 * half, N = H * d, seq = table.seq;
#pragma omp parallel for schedule(static) if (worth_parallel(B * seq * N))
  for (int64_t r = 0; r < B * seq; ++r) {
    const T* c = table.cos.data() + (r % seq) * half;
    const T* s = table.sin.data() + (r % seq) * half;
    for (int64_t h = 0; h < H; ++h) {
      T* head = x + r * N + h * d;
      for (int64_t i = 0; i < half; ++i) {
        const T a = head[i], b = head[i + half];
        head[i] = a * c[i] - direction * b * s[i];
        head[i + half] = b * c[i] + direction * a * s[i];
      }
    }
  }
}
}  // namespace

template <typename T>
void rope_forward(T* x, const RopeTable<T>& table, int64_t B, int64_t H) {
  rotate(x, table, B, H, T(1));
}
template <typename T>
void rope_backward(T* dx, const RopeTable<T>& table, int64_t B, int64_t H) {
  rotate(dx, table, B, H, T(-1));
}

template RopeTable<float> make_rope_table<float>(int64_t, int64_t, double);
template RopeTable<double> make_rope_table<double>(int64_t, int64_t, double);
template void rope_forward<float>(float*, const RopeTable<float>&, int64_t, int64_t);
template void rope_forward<double>(double*, const RopeTable<double>&, int64_t, int64_t);
template void rope_backward<float>(float*, const RopeTable<float>&, int64_t, int64_t);
template void rope_backward<double>(double*, const RopeTable<double>&, int64_t, int64_t);

}  // namespace moet
