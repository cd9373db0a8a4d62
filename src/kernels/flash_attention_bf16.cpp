#include "kernels/flash_attention_bf16.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/bf16_tile_gemm.h"
#include "kernels/softmax_row.h"
#include "kernels/tile_gemm.h"

namespace moet {
namespace {

constexpr int64_t kB = kBf16FlashBlock;

// One head's sizes: T rounded up to whole blocks, d_head rounded up as a product's k (32) and as
// its n (16); N the row stride of q, k, v and the outputs.
struct HeadDims {
  int64_t T, d, N, Tp, dk, dn;
  HeadDims(int64_t T_len, int64_t d_head, int64_t row_stride)
      : T(T_len),
        d(d_head),
        N(row_stride),
        Tp(round_up(T_len, kB)),
        dk(round_up(d_head, kBf16TileK)),
        dn(round_up(d_head, kBf16TileRows)) {}
};

// Elements of each type one pass carves from its thread's scratch (forward_head, backward_head),
// in S = int64_t for the passes and S = CheckedSize for the memory estimate's absurd shapes.
template <typename S>
struct ScratchCounts {
  S bf16, f32;
};
template <typename S>
ScratchCounts<S> forward_scratch(const HeadDims& h) {
  const S Tp = h.Tp;
  return {S(2) * Tp * h.dk + Tp * h.dn + S(kB * kB),
          S(h.d) * Tp + S(kB * kB + 2 * kB) + S(kB) * h.dn};
}
template <typename S>
ScratchCounts<S> backward_scratch(const HeadDims& h) {
  const S Tp = h.Tp;
  return {S(4) * Tp * h.dk + S(3) * Tp * h.dn + S(3 * kB * kB),
          S(h.d) * Tp + S(3 * kB * kB) + Tp * h.dn + S(2 * kB) * h.dn + Tp};
}

// The calling thread's scratch, carved in order: take() hands out the next n elements of each
// type, grown to what the pass needs on first use and reused after.
class ThreadScratch {
 public:
  explicit ThreadScratch(ScratchCounts<int64_t> counts) {
    const int64_t bf16_count = counts.bf16, f32_count = counts.f32;
    thread_local std::vector<uint16_t> bf16_store;
    thread_local std::vector<float> f32_store;
    if (bf16_store.size() < size_t(bf16_count)) bf16_store.resize(size_t(bf16_count));
    if (f32_store.size() < size_t(f32_count)) f32_store.resize(size_t(f32_count));
    bf16_ = bf16_store.data();
    f32_ = f32_store.data();
  }
  uint16_t* bf16(int64_t n) { return std::exchange(bf16_, bf16_ + n); }
  float* f32(int64_t n) { return std::exchange(f32_, f32_ + n); }

 private:
  uint16_t* bf16_;
  float* f32_;
};

// Runs fn(offset of the pair's first element in [B*T, N], index of the pair in [B, H]) for every
// (sequence, head) pair, one pair per task.
template <typename Fn>
void for_each_head(int64_t B, int64_t H, int64_t T_len, int64_t d, int threads, Fn&& fn) {
  threads = std::max(1, std::min(threads, omp_get_max_threads()));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t bh = 0; bh < B * H; ++bh) fn(bh / H * T_len * H * d + bh % H * d, bh);
}

// out[r * N + c] = factor * in[r * ld + c] for r < rows, c < d.
void store_scaled(float* out, int64_t N, const float* in, int64_t ld, int64_t rows, int64_t d,
                  float factor) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < d; ++c) out[r * N + c] = factor * in[r * ld + c];
}

// Forward for one (sequence, head): out, q, k, v point at its first element, rows N apart.
void forward_head(float* out, float* lse, const float* q, const float* k, const float* v,
                  const HeadDims& h, float scale) {
  const int64_t Tp = h.Tp, dk = h.dk, dn = h.dn;
  ThreadScratch s(forward_scratch<int64_t>(h));
  uint16_t *qa = s.bf16(Tp * dk), *kt = s.bf16(dk * Tp), *vv = s.bf16(Tp * dn);
  uint16_t* pa = s.bf16(kB * kB);
  float *transposed = s.f32(h.d * Tp), *tile = s.f32(kB * kB), *o = s.f32(kB * dn);
  float *max = s.f32(kB), *sum = s.f32(kB);
  pack_bf16_rows(qa, Tp, dk, q, h.N, h.T, h.d);
  pack_transposed(transposed, Tp, k, h.N, h.T, h.d);
  pack_bf16_pairs(kt, dk, Tp, transposed, Tp, h.d, h.T);
  pack_bf16_pairs(vv, Tp, dn, v, h.N, h.T, h.d);
  Bf16TileSession tiles;
  for (int64_t i0 = 0; i0 < h.T; i0 += kB) {
    const int64_t rows = std::min(kB, h.T - i0);
    // Key blocks at or before the query block's diagonal; every row sees at least one key.
    for (int64_t j0 = 0; j0 <= i0; j0 += kB) {
      bf16_tile_gemm(kB, kB, dk, qa + i0 * dk, dk, kt + 2 * j0, 2 * Tp, Accumulate::no, tile, kB);
      for (int64_t r = 0; r < rows; ++r) {
        float* row = tile + r * kB;
        const int64_t visible = std::min(kB, i0 + r + 1 - j0);
        scale_row(row, visible, scale);
        online_softmax_row(row, visible, kB, j0 == 0, max[r], sum[r], o + r * dn, h.d);
      }
      pack_bf16_rows(pa, kB, kB, tile, kB, rows, kB);
      bf16_tile_gemm(kB, dn, kB, pa, kB, vv + j0 * dn, 2 * dn, Accumulate{j0 > 0}, o, dn);
    }
    for (int64_t r = 0; r < rows; ++r) {
      store_scaled(out + (i0 + r) * h.N, h.N, o + r * dn, dn, 1, h.d, 1.0f / sum[r]);
      lse[i0 + r] = max[r] + std::log(sum[r]);
    }
  }
}

// The backward's packed operands: A operands row-major [Tp, dk], B operands in pairs of rows.
struct BackwardOperands {
  uint16_t *qa, *doa;              // A of S = Q K^T and dP = dO V^T
  uint16_t *kt, *vt;               // B of the same: K^T, V^T [dk, Tp]
  uint16_t *k_pairs, *q_pairs;     // B of dQ = dS K and dK = dS^T Q [Tp, dn]
  uint16_t* dout_pairs;            // B of dV = P^T dO [Tp, dn]
  uint16_t *ds_rows, *p_t, *ds_t;  // A of dQ (dS), dV (P^T), dK (dS^T), one block each
  float* transposed;               // P^T or dS^T in fp32 on the way to p_t and ds_t
};

// P and dS of one block in place on the score tile and the dP tile (zero past each row's
// diagonal and on rows past the sequence), then their bf16 A operands.
void block_gradients(float* p, float* ds, const float* lse, const float* D, int64_t i0, int64_t j0,
                     int64_t T, float scale, const BackwardOperands& op) {
  for (int64_t r = 0; r < kB; ++r) {
    const int64_t t = i0 + r;
    const int64_t visible = t < T ? std::min(kB, t + 1 - j0) : 0;
    float* pr = p + r * kB;
    float* dsr = ds + r * kB;
    scale_row(pr, visible, scale);
    exp_minus_row(pr, visible, visible > 0 ? lse[t] : 0.0f);
    for (int64_t j = 0; j < visible; ++j) dsr[j] = pr[j] * (dsr[j] - D[t]);
    std::fill(pr + visible, pr + kB, 0.0f);
    std::fill(dsr + visible, dsr + kB, 0.0f);
  }
  pack_bf16_rows(op.ds_rows, kB, kB, ds, kB, kB, kB);
  pack_transposed(op.transposed, kB, p, kB, kB, kB);
  pack_bf16_rows(op.p_t, kB, kB, op.transposed, kB, kB, kB);
  pack_transposed(op.transposed, kB, ds, kB, kB, kB);
  pack_bf16_rows(op.ds_t, kB, kB, op.transposed, kB, kB, kB);
}

// Backward for one (sequence, head), pointers as in forward_head.
void backward_head(float* dq, float* dk, float* dv, const float* dout, const float* out,
                   const float* lse, const float* q, const float* k, const float* v,
                   const HeadDims& h, float scale) {
  const int64_t Tp = h.Tp, d_k = h.dk, dn = h.dn, N = h.N;
  ThreadScratch s(backward_scratch<int64_t>(h));
  float* transposed = s.f32(h.d * Tp);  // K^T, then V^T, in fp32
  BackwardOperands op{s.bf16(Tp * d_k), s.bf16(Tp * d_k), s.bf16(d_k * Tp), s.bf16(d_k * Tp),
                      s.bf16(Tp * dn),  s.bf16(Tp * dn),  s.bf16(Tp * dn),  s.bf16(kB * kB),
                      s.bf16(kB * kB),  s.bf16(kB * kB),  s.f32(kB * kB)};
  float *p = s.f32(kB * kB), *ds = s.f32(kB * kB), *dq_acc = s.f32(Tp * dn);
  float *dk_acc = s.f32(kB * dn), *dv_acc = s.f32(kB * dn), *D = s.f32(Tp);
  pack_bf16_rows(op.qa, Tp, d_k, q, N, h.T, h.d);
  pack_bf16_rows(op.doa, Tp, d_k, dout, N, h.T, h.d);
  pack_transposed(transposed, Tp, k, N, h.T, h.d);
  pack_bf16_pairs(op.kt, d_k, Tp, transposed, Tp, h.d, h.T);
  pack_transposed(transposed, Tp, v, N, h.T, h.d);
  pack_bf16_pairs(op.vt, d_k, Tp, transposed, Tp, h.d, h.T);
  pack_bf16_pairs(op.k_pairs, Tp, dn, k, N, h.T, h.d);
  pack_bf16_pairs(op.q_pairs, Tp, dn, q, N, h.T, h.d);
  pack_bf16_pairs(op.dout_pairs, Tp, dn, dout, N, h.T, h.d);
  for (int64_t t = 0; t < h.T; ++t) {
    float dot = 0;  // D_t = dO_t . O_t, the softmax backward's row term
    for (int64_t c = 0; c < h.d; ++c) dot += dout[t * N + c] * out[t * N + c];
    D[t] = dot;
  }
  std::fill(dq_acc, dq_acc + Tp * dn, 0.0f);
  Bf16TileSession tiles;
  for (int64_t j0 = 0; j0 < h.T; j0 += kB) {
    // Keys [j0, j0 + kB) are seen by queries [j0, T).
    for (int64_t i0 = j0; i0 < h.T; i0 += kB) {
      const Accumulate add_to_block{i0 > j0};
      bf16_tile_gemm(kB, kB, d_k, op.qa + i0 * d_k, d_k, op.kt + 2 * j0, 2 * Tp, Accumulate::no, p,
                     kB);
      bf16_tile_gemm(kB, kB, d_k, op.doa + i0 * d_k, d_k, op.vt + 2 * j0, 2 * Tp, Accumulate::no,
                     ds, kB);
      block_gradients(p, ds, lse, D, i0, j0, h.T, scale, op);
      bf16_tile_gemm(kB, dn, kB, op.ds_rows, kB, op.k_pairs + j0 * dn, 2 * dn, Accumulate::yes,
                     dq_acc + i0 * dn, dn);
      bf16_tile_gemm(kB, dn, kB, op.p_t, kB, op.dout_pairs + i0 * dn, 2 * dn, add_to_block, dv_acc,
                     dn);
      bf16_tile_gemm(kB, dn, kB, op.ds_t, kB, op.q_pairs + i0 * dn, 2 * dn, add_to_block, dk_acc,
                     dn);
    }
    const int64_t keys = std::min(kB, h.T - j0);
    store_scaled(dk + j0 * N, N, dk_acc, dn, keys, h.d, scale);
    store_scaled(dv + j0 * N, N, dv_acc, dn, keys, h.d, 1.0f);
  }
  store_scaled(dq, N, dq_acc, dn, h.T, h.d, scale);
}

}  // namespace

bool bf16_attention_available() { return bf16_tiles_on_amx(); }

CheckedSize flash_attention_bf16_scratch_bytes(int64_t T_len, int64_t d) {
  const HeadDims h(T_len, d, d);
  const ScratchCounts<CheckedSize> f = forward_scratch<CheckedSize>(h),
                                   b = backward_scratch<CheckedSize>(h);
  const auto larger = [](CheckedSize x, CheckedSize y) {
    return x.overflow() || (!y.overflow() && x.value() >= y.value()) ? x : y;
  };
  return larger(f.bf16, b.bf16) * int64_t(sizeof(uint16_t)) +
         larger(f.f32, b.f32) * int64_t(sizeof(float));
}

void flash_attention_forward_bf16(float* out, float* lse, const float* q, const float* k,
                                  const float* v, int64_t B, int64_t T_len, int64_t H, int64_t d,
                                  double scale, int threads) {
  const HeadDims dims(T_len, d, H * d);
  for_each_head(B, H, T_len, d, threads, [&](int64_t base, int64_t bh) {
    forward_head(out + base, lse + bh * T_len, q + base, k + base, v + base, dims, float(scale));
  });
}

void flash_attention_backward_bf16(float* dq, float* dk, float* dv, const float* dout,
                                   const float* out, const float* lse, const float* q,
                                   const float* k, const float* v, int64_t B, int64_t T_len,
                                   int64_t H, int64_t d, double scale, int threads) {
  const HeadDims dims(T_len, d, H * d);
  for_each_head(B, H, T_len, d, threads, [&](int64_t base, int64_t bh) {
    backward_head(dq + base, dk + base, dv + base, dout + base, out + base, lse + bh * T_len,
                  q + base, k + base, v + base, dims, float(scale));
  });
}

}  // namespace moet
