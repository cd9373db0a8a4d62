// MpiWorld: the World of the ranks an MPI launcher started (MPI_COMM_WORLD), or of a group of
// them split off it (split(): a communicator of MPI_Comm_split).
//
// Construction calls MPI_Init_thread (MPI_THREAD_FUNNELED: OpenMP threads compute, only the
// thread that made the world calls MPI) and sets MPI_ERRORS_RETURN, so a failed MPI call becomes
// an Error with one line instead of MPI's default abort; destruction calls MPI_Finalize. At most
// one per process: MPI cannot be initialised twice. A split-off world frees its communicator
// instead, and its abort still ends every rank of the launch.
#pragma once

#include <mpi.h>

#include <string>
#include <string_view>

#include "dist/world.h"

namespace moet::dist {

// Throws Error "<call>: <MPI's error string>" unless code is MPI_SUCCESS.
void check_mpi(int code, std::string_view call);

class MpiWorld final : public World {
 public:
  explicit MpiWorld(std::string source);  // source: the variable that told us (launch.h)
  ~MpiWorld() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override;

 protected:
  void do_allreduce_sum(std::span<float> data) override;
  void do_allreduce_sum(std::span<double> data) override;
  void do_reduce_scatter_sum(std::span<const float> in, std::span<float> out) override;
  void do_all_gather(std::span<const std::byte> mine, std::span<std::byte> all,
                     bool in_place) override;
  void do_all_to_all_v(std::span<const std::byte> send, std::span<const int64_t> send_bytes,
                       std::span<std::byte> recv, std::span<const int64_t> recv_bytes) override;
  void do_broadcast(std::span<std::byte> data, int root) override;
  void do_barrier() override;
  std::unique_ptr<World> do_split(int color) override;
  void do_abort(int exit_code) override;

 private:
  MpiWorld(MPI_Comm comm, std::string source);  // a split-off group; takes ownership of comm

  std::string source_;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  bool owns_mpi_ = false;  // the world of the launch: MPI_Finalize on destruction
  int rank_ = 0, size_ = 1;
};

}  // namespace moet::dist
