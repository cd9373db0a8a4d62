#include "model/expert_dispatch.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>

#include "core/error.h"
#include "core/profile.h"
#include "dist/all_to_all.h"
#include "dist/world.h"
#include "model/expert_shard.h"

namespace moet {

template <typename T>
ExpertDispatch<T>::ExpertDispatch(dist::World& group, int64_t M, int64_t N)
    : group_(group), M_(M), N_(N), held_(M / group.size()), per_expert_(size_t(M)) {
  validate_expert_shard({group.rank(), group.size()}, M);
}

template <typename T>
void ExpertDispatch<T>::dispatch(const std::vector<int64_t>& offsets, const T* rows,
                                 ExpertRoutes& routes, std::vector<T>& grouped) {
  const int64_t E = group_.size(), k = held_;
  for (int64_t e = 0; e < M_; ++e) per_expert_[size_t(e)] = offsets[e + 1] - offsets[e];
  {
    // The collectives are communication in the step's phases, not permutation.
    PhaseScope scope(Phase::communication);
    routes.received = dist::exchange_counts(group_, per_expert_);
  }
  routes.send_elems.assign(size_t(E), 0);
  routes.recv_elems.assign(size_t(E), 0);
  routes.local_offsets.assign(size_t(k + 1), 0);
  routes.chunk_at.assign(size_t(E * k), 0);
  for (int64_t d = 0; d < E; ++d) {
    routes.send_elems[d] = (offsets[(d + 1) * k] - offsets[d * k]) * N_;
    for (int64_t j = 0; j < k; ++j) {
      routes.recv_elems[d] += routes.received[d * k + j] * N_;
      routes.local_offsets[j + 1] += routes.received[d * k + j];
    }
  }
  for (int64_t j = 0; j < k; ++j) routes.local_offsets[j + 1] += routes.local_offsets[j];
  for (int64_t j = 0; j < k; ++j) {
    int64_t at = routes.local_offsets[j];
    for (int64_t s = 0; s < E; ++s) {
      routes.chunk_at[s * k + j] = at;
      at += routes.received[s * k + j];
    }
  }
  routes.rows_in = routes.local_offsets[k];
  routes.rows_out = offsets[M_] - offsets[0];
  send(routes, rows, grow_to(grouped, routes.rows_in * N_));
}

template <typename T>
void ExpertDispatch<T>::send(const ExpertRoutes& routes, const T* rows, T* grouped) {
  const int64_t sent = routes.rows_out * N_;
  const int64_t arrived = routes.rows_in * N_;
  T* staging = grow_to(staging_, arrived);
  std::optional<PhaseScope> scope(std::in_place, Phase::communication);
  group_.all_to_all_v(
      std::span<const T>(rows, size_t(sent)), std::span<const int64_t>(routes.send_elems),
      std::span<T>(staging, size_t(arrived)), std::span<const int64_t>(routes.recv_elems));
  scope.reset();
  regroup(routes, staging, grouped, true);
}

template <typename T>
void ExpertDispatch<T>::send_back(const ExpertRoutes& routes, const T* grouped, T* rows) {
  const int64_t back = routes.rows_out * N_;
  const int64_t leaving = routes.rows_in * N_;
  T* staging = grow_to(staging_, leaving);
  regroup(routes, grouped, staging, false);
  PhaseScope scope(Phase::communication);
  group_.all_to_all_v(std::span<const T>(staging, size_t(leaving)),
                      std::span<const int64_t>(routes.recv_elems), std::span<T>(rows, size_t(back)),
                      std::span<const int64_t>(routes.send_elems));
}

// Chunk (s, j) holds received[s k + j] rows: at the running position source-major, at
// chunk_at[s k + j] expert-major.
template <typename T>
void ExpertDispatch<T>::regroup(const ExpertRoutes& routes, const T* from, T* to,
                                bool to_expert_major) const {
  int64_t source_major = 0;
  for (size_t chunk = 0; chunk < routes.received.size(); ++chunk) {
    const int64_t rows = routes.received[chunk], expert_major = routes.chunk_at[chunk];
    const int64_t src = to_expert_major ? source_major : expert_major;
    const int64_t dst = to_expert_major ? expert_major : source_major;
    if (rows > 0) std::memcpy(to + dst * N_, from + src * N_, size_t(rows * N_) * sizeof(T));
    source_major += rows;
  }
}

template <typename T>
T* ExpertDispatch<T>::expert_rows(int64_t rows) {
  return grow_to(expert_rows_, rows * N_);
}

template <typename T>
T* ExpertDispatch<T>::expert_grads(int64_t rows) {
  return grow_to(expert_grads_, rows * N_);
}

template class ExpertDispatch<float>;
template class ExpertDispatch<double>;

}  // namespace moet
