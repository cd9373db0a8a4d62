// Expert parallelism's token traffic for one MoE layer, in the order of Megatron-Core's
// all-to-all dispatcher: the rows routed to experts of other ranks go there with an
// all-to-all-v after the counts are exchanged, the local experts run on what arrives, and their
// outputs travel back the same way; the backward sends the output gradients along the same
// routes and the input gradients back.
//
// Layouts. This rank's assignments, grouped by global expert (the routing's permutation), are
// also grouped by destination rank, since rank d holds the contiguous experts [d k, (d+1) k) with
// k = M/E: that block is what d gets. What arrives comes source rank by source rank, each
// source's rows expert by expert ("source-major", the all-to-all's layout); the experts want
// them expert by expert, each expert's source by source ("expert-major"), so each local expert
// is one contiguous block and one GEMM. `regroup` converts between the two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moet::dist {
class World;
}

namespace moet {

// The buffer, grown to at least n elements and never shrunk: the rows a rank receives vary from
// step to step, so buffers sized by them grow when a step routes more rows than any before.
template <typename T>
T* grow_to(std::vector<T>& buffer, int64_t n) {
  if (buffer.size() < size_t(n)) buffer.resize(size_t(n));
  return buffer.data();
}

// One layer's routes of the last forward pass; the backward reuses them.
struct ExpertRoutes {
  std::vector<int64_t> received;       // [E k]: rows from rank s for local expert j at s k + j
  std::vector<int64_t> chunk_at;       // [E k]: where chunk (s, j) starts, expert-major
  std::vector<int64_t> local_offsets;  // [k + 1]: local expert j's rows, expert-major
  std::vector<int64_t> send_elems, recv_elems;  // [E]: elements (rows x N) to / from each rank
  int64_t rows_in = 0;                          // rows the local experts received
  int64_t rows_out = 0;                         // rows this rank sent: its assignments
};

template <typename T>
class ExpertDispatch {
 public:
  // group: the E ranks sharing the experts (E divides M); N: the row width.
  ExpertDispatch(dist::World& group, int64_t M, int64_t N);
  int64_t experts_held() const { return held_; }

  // Forward: offsets [M + 1] group this rank's assignments by global expert and rows [A, N]
  // holds them in that order. Exchanges the counts (collective), sends the rows, and leaves
  // what arrived in `grouped` (resized to hold routes.rows_in rows), expert-major.
  void dispatch(const std::vector<int64_t>& offsets, const T* rows, ExpertRoutes& routes,
                std::vector<T>& grouped);
  // Rows [A, N] in the layout dispatch took, along the same routes to the experts' ranks:
  // `grouped` receives routes.rows_in rows, expert-major (the backward's output gradients).
  void send(const ExpertRoutes& routes, const T* rows, T* grouped);
  // The reverse: expert-major rows [rows_in, N] go back to the ranks they came from; `rows`
  // receives this rank's [A, N] in dispatch's layout.
  void send_back(const ExpertRoutes& routes, const T* grouped, T* rows);

  // Buffers for the local experts' rows (grow_to: steps after the first few allocate nothing).
  T* expert_rows(int64_t rows);   // forward outputs, backward output gradients
  T* expert_grads(int64_t rows);  // backward input gradients

 private:
  void regroup(const ExpertRoutes& routes, const T* from, T* to, bool to_expert_major) const;

  dist::World& group_;
  int64_t M_, N_, held_;
  std::vector<int64_t> per_expert_;  // [M]: rows this rank sends each global expert
  std::vector<T> staging_;           // source-major rows, the all-to-all's side
  std::vector<T> expert_rows_, expert_grads_;
};

}  // namespace moet
