#include "kernels/xent.h"

#include <cmath>

#include "kernels/parallel.h"
#include "kernels/softmax_row.h"

namespace moet {

template <typename T>
void softmax_xent_forward(T* losses, T* logits, const int32_t* targets, int64_t rows, int64_t V) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * V))
  for (int64_t r = 0; r < rows; ++r) {
    T* x = logits + r * V;
    const double target_logit = x[targets[r]];
    const RowExp<T> e = exp_shift_row(x, V);
    // logsumexp - logit[target]
    losses[r] = T(std::log(double(e.sum)) + double(e.max) - target_logit);
    scale_row(x, V, T(1.0 / double(e.sum)));
  }
}

template <typename T>
void softmax_xent_backward(T* dlogits, const T* probs, const int32_t* targets, int64_t rows,
                           int64_t V, T scale) {
#pragma omp parallel for schedule(static) if (worth_parallel(rows * V))
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = probs + r * V;
    T* d = dlogits + r * V;
    for (int64_t j = 0; j < V; ++j) d[j] = scale * p[j];
    d[targets[r]] -= scale;
  }
}

template void softmax_xent_forward<float>(float*, float*, const int32_t*, int64_t, int64_t);
template void softmax_xent_forward<double>(double*, double*, const int32_t*, int64_t, int64_t);
template void softmax_xent_backward<float>(float*, const float*, const int32_t*, int64_t, int64_t,
                                           float);
template void softmax_xent_backward<double>(double*, const double*, const int32_t*, int64_t,
                                            int64_t, double);

}  // namespace moet
