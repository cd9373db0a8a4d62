// Fused softmax + cross-entropy over the vocabulary.
//
// Forward turns logits into probabilities in place (the [rows, V] logits buffer is the largest
// activation; it is never copied) and writes each row's loss. Backward writes
// dlogits = scale * (probs - onehot(target)); it may alias probs.
#pragma once

#include <cstdint>

namespace moet {

template <typename T>
void softmax_xent_forward(T* losses, T* logits_to_probs, const int32_t* targets, int64_t rows,
                          int64_t V);
template <typename T>
void softmax_xent_backward(T* dlogits, const T* probs, const int32_t* targets, int64_t rows,
                           int64_t V, T scale);

}  // namespace moet
