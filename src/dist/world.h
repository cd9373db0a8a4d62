// World: the one communicator interface of moet, the ranks of a run and the collectives they use.
//
// Data parallelism with ZeRO-1 needs allreduce (losses, norms, load counts), reduce-scatter
// (gradients into each rank's shard), all-gather (updated shards back into every rank's
// parameters) and broadcast (start-up state); expert parallelism needs all-to-all-v (tokens to
// the rank of their expert and back). Two implementations: `SingleWorld` (one process, no MPI
// call at all, so a plain `moet train` is what it always was) and `MpiWorld` (mpi_world.h);
// `make_world` (launch.h) picks one from the environment.
//
// The public calls check their arguments, count traffic and hand over to the implementation
// (do_*), so both implementations share one set of rules. Every rank must make the same calls in
// the same order with matching sizes, as in MPI. All calls block; only the calling thread talks
// (one MPI call at a time, from the thread that made the world).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

namespace moet::dist {

enum class CallKind { allreduce, reduce_scatter, all_gather, all_to_all, broadcast, barrier };
inline constexpr int kCallKinds = 6;
const char* call_kind_name(CallKind kind);

// What this rank sent, per call kind. bytes_sent is the payload that must leave this rank under
// a bandwidth-optimal algorithm (docs/distributed.md §1.3 gives the formula per kind), not what
// the MPI library's chosen algorithm put on the wire; it is 0 for every call at R = 1.
struct Traffic {
  std::array<int64_t, kCallKinds> calls{};
  std::array<int64_t, kCallKinds> bytes_sent{};
  int64_t calls_of(CallKind kind) const { return calls[size_t(kind)]; }
  int64_t bytes_of(CallKind kind) const { return bytes_sent[size_t(kind)]; }
  int64_t total_bytes() const;
};

class World {
 public:
  virtual ~World() = default;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single process" or "MPI (OMPI_COMM_WORLD_SIZE)": for logs and errors.
  virtual std::string describe() const = 0;
  // Ends every rank at once with this exit code (MPI_Abort), for an error only this rank knows
  // about: the others may be blocked in a collective it will never join.
  [[noreturn]] void abort(int exit_code);

  // data := the element-wise sum over ranks of data, on every rank.
  void allreduce_sum(std::span<float> data);
  void allreduce_sum(std::span<double> data);
  // in holds size() blocks of out.size() elements; out := the sum over ranks of block rank().
  // in and out must not overlap.
  void reduce_scatter_sum(std::span<const float> in, std::span<float> out);
  // all := the ranks' `mine` in rank order (all.size() == size() * mine.size()). `mine` may be
  // block rank() of `all` itself (in place, as ZeRO-1 gathers updated shards); otherwise the two
  // must not overlap.
  template <typename T>
  void all_gather(std::span<const T> mine, std::span<T> all) {
    static_assert(std::is_trivially_copyable_v<T>);
    all_gather_bytes(std::as_bytes(mine), std::as_writable_bytes(all));
  }
  // send holds, in rank order, send_counts[d] elements for each rank d; recv receives, in rank
  // order, recv_counts[s] elements from each rank s. Counts are elements of T and must agree
  // across ranks (what s sends to d is what d expects from s): exchange_counts (all_to_all.h)
  // computes recv_counts from send_counts.
  template <typename T>
  void all_to_all_v(std::span<const T> send, std::span<const int64_t> send_counts,
                    std::span<T> recv, std::span<const int64_t> recv_counts) {
    static_assert(std::is_trivially_copyable_v<T>);
    all_to_all_v_bytes(std::as_bytes(send), send_counts, std::as_writable_bytes(recv), recv_counts,
                       sizeof(T));
  }
  // data := root's data, on every rank.
  template <typename T>
  void broadcast(std::span<T> data, int root) {
    static_assert(std::is_trivially_copyable_v<T>);
    broadcast_bytes(std::as_writable_bytes(data), root);
  }
  void barrier();
  // The ranks that pass the same color (>= 0) form a world of their own, ranked in this world's
  // order (MPI_Comm_split): expert parallelism exchanges tokens within a group of E ranks and
  // reduces expert gradients over the D ranks holding the same experts. Every rank must call it.
  // The new world counts its own traffic (the split itself is not counted) and must be destroyed
  // before this one.
  std::unique_ptr<World> split(int color);

  const Traffic& traffic() const { return traffic_; }
  void reset_traffic() { traffic_ = {}; }

 protected:
  World() = default;
  virtual void do_allreduce_sum(std::span<float> data) = 0;
  virtual void do_allreduce_sum(std::span<double> data) = 0;
  virtual void do_reduce_scatter_sum(std::span<const float> in, std::span<float> out) = 0;
  // in_place: mine is block rank() of all.
  virtual void do_all_gather(std::span<const std::byte> mine, std::span<std::byte> all,
                             bool in_place) = 0;
  virtual void do_all_to_all_v(std::span<const std::byte> send, std::span<const int64_t> send_bytes,
                               std::span<std::byte> recv, std::span<const int64_t> recv_bytes) = 0;
  virtual void do_broadcast(std::span<std::byte> data, int root) = 0;
  virtual void do_barrier() = 0;
  virtual std::unique_ptr<World> do_split(int color) = 0;
  virtual void do_abort(int exit_code) = 0;  // returns only if it could not end the world

 private:
  void all_gather_bytes(std::span<const std::byte> mine, std::span<std::byte> all);
  void all_to_all_v_bytes(std::span<const std::byte> send, std::span<const int64_t> send_counts,
                          std::span<std::byte> recv, std::span<const int64_t> recv_counts,
                          size_t element_bytes);
  void broadcast_bytes(std::span<std::byte> data, int root);
  void count(CallKind kind, int64_t bytes);

  Traffic traffic_;
};

// One process: every collective is the identity (or a copy), no MPI call is made.
class SingleWorld final : public World {
 public:
  SingleWorld() = default;
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "single process"; }

 protected:
  void do_allreduce_sum(std::span<float>) override {}
  void do_allreduce_sum(std::span<double>) override {}
  void do_reduce_scatter_sum(std::span<const float> in, std::span<float> out) override;
  void do_all_gather(std::span<const std::byte> mine, std::span<std::byte> all,
                     bool in_place) override;
  void do_all_to_all_v(std::span<const std::byte> send, std::span<const int64_t> send_bytes,
                       std::span<std::byte> recv, std::span<const int64_t> recv_bytes) override;
  void do_broadcast(std::span<std::byte>, int) override {}
  void do_barrier() override {}
  std::unique_ptr<World> do_split(int) override { return std::make_unique<SingleWorld>(); }
  void do_abort(int) override {}
};

}  // namespace moet::dist
