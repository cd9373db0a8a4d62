#include "dist/mpi_world.h"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <vector>

#include "core/error.h"

namespace moet::dist {

namespace {

// MPI counts and displacements are int: a call beyond 2 GiB per peer (elements for reductions)
// would wrap. Larger transfers must be split by the caller.
int mpi_count(int64_t count, std::string_view call) {
  if (count > INT_MAX)
    fail("{}: {} elements exceed MPI's int counts (2^31 - 1); split the transfer", call, count);
  return int(count);
}

std::vector<int> prefix_offsets(const std::vector<int>& counts, std::string_view call) {
  std::vector<int> offsets(counts.size());
  int64_t at = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    offsets[i] = mpi_count(at, call);
    at += counts[i];
  }
  mpi_count(at, call);
  return offsets;
}

std::vector<int> int_counts(std::span<const int64_t> counts, std::string_view call) {
  std::vector<int> out;
  for (int64_t c : counts) out.push_back(mpi_count(c, call));
  return out;
}

}  // namespace

void check_mpi(int code, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  std::string message(text, size_t(length));
  for (char& c : message)
    if (c == '\n') c = ' ';
  fail("{} failed: {}", call, message.empty() ? "MPI error " + std::to_string(code) : message);
}

MpiWorld::MpiWorld(std::string source) : source_(std::move(source)), owns_mpi_(true) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) fail("MPI is already initialised: one MpiWorld per process");
  int provided = 0;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  if (provided < MPI_THREAD_FUNNELED)
    fail("the MPI library offers thread level {}, below MPI_THREAD_FUNNELED", provided);
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiWorld::MpiWorld(MPI_Comm comm, std::string source) : source_(std::move(source)), comm_(comm) {
  check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiWorld::~MpiWorld() {
  if (owns_mpi_)
    MPI_Finalize();
  else
    MPI_Comm_free(&comm_);
}

std::string MpiWorld::describe() const {
  return fmt::format("MPI rank {} of {} (from {})", rank_, size_, source_);
}

// MPI_COMM_WORLD even from a split-off group: the error ends the whole launch, whose other
// groups may be waiting for this rank too.
void MpiWorld::do_abort(int exit_code) { MPI_Abort(MPI_COMM_WORLD, exit_code); }

std::unique_ptr<World> MpiWorld::do_split(int color) {
  MPI_Comm comm = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(comm_, color, rank_, &comm), "MPI_Comm_split");
  return std::unique_ptr<World>(
      new MpiWorld(comm, fmt::format("color {} of {}", color, describe())));
}

void MpiWorld::do_allreduce_sum(std::span<float> data) {
  const int count = mpi_count(int64_t(data.size()), "MPI_Allreduce");
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(), count, MPI_FLOAT, MPI_SUM, comm_),
            "MPI_Allreduce");
}

void MpiWorld::do_allreduce_sum(std::span<double> data) {
  const int count = mpi_count(int64_t(data.size()), "MPI_Allreduce");
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(), count, MPI_DOUBLE, MPI_SUM, comm_),
            "MPI_Allreduce");
}

void MpiWorld::do_reduce_scatter_sum(std::span<const float> in, std::span<float> out) {
  const int block = mpi_count(int64_t(out.size()), "MPI_Reduce_scatter_block");
  check_mpi(MPI_Reduce_scatter_block(in.data(), out.data(), block, MPI_FLOAT, MPI_SUM, comm_),
            "MPI_Reduce_scatter_block");
}

void MpiWorld::do_all_gather(std::span<const std::byte> mine, std::span<std::byte> all,
                             bool in_place) {
  const int block = mpi_count(int64_t(mine.size()), "MPI_Allgather");
  check_mpi(MPI_Allgather(in_place ? MPI_IN_PLACE : mine.data(), block, MPI_BYTE, all.data(), block,
                          MPI_BYTE, comm_),
            "MPI_Allgather");
}

void MpiWorld::do_all_to_all_v(std::span<const std::byte> send, std::span<const int64_t> send_bytes,
                               std::span<std::byte> recv, std::span<const int64_t> recv_bytes) {
  const std::vector<int> send_counts = int_counts(send_bytes, "MPI_Alltoallv");
  const std::vector<int> recv_counts = int_counts(recv_bytes, "MPI_Alltoallv");
  const std::vector<int> send_offsets = prefix_offsets(send_counts, "MPI_Alltoallv");
  const std::vector<int> recv_offsets = prefix_offsets(recv_counts, "MPI_Alltoallv");
  check_mpi(MPI_Alltoallv(send.data(), send_counts.data(), send_offsets.data(), MPI_BYTE,
                          recv.data(), recv_counts.data(), recv_offsets.data(), MPI_BYTE, comm_),
            "MPI_Alltoallv");
}

void MpiWorld::do_broadcast(std::span<std::byte> data, int root) {
  check_mpi(
      MPI_Bcast(data.data(), mpi_count(int64_t(data.size()), "MPI_Bcast"), MPI_BYTE, root, comm_),
      "MPI_Bcast");
}

void MpiWorld::do_barrier() { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

}  // namespace moet::dist
