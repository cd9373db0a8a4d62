// Rotary position embedding (RoPE) on q or k in place, GPT-NeoX layout: within each head,
// coordinate i pairs with i + d/2 and the pair turns by angle t * base^(-2i/d).
//
// The rotation is orthogonal, so the backward pass is the same rotation by the opposite angle;
// rope_backward applies it to the gradient in place. The cos/sin table [T, d/2] is built once.
#pragma once

#include <cstdint>
#include <vector>

namespace moet {

template <typename T>
struct RopeTable {
  int64_t seq = 0, half = 0;
  std::vector<T> cos, sin;  // [seq, d/2]
};

template <typename T>
RopeTable<T> make_rope_table(int64_t seq, int64_t d, double base);

template <typename T>
void rope_forward(T* x, const RopeTable<T>& table, int64_t B, int64_t H);
template <typename T>
void rope_backward(T* dx, const RopeTable<T>& table, int64_t B, int64_t H);

}  // namespace moet
