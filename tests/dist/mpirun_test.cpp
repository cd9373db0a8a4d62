// The communicator under the real mpirun (Debian's Open MPI): tests/dist/ranks/main.cpp runs on
// every rank and checks each collective against values it computes alone; these tests start it
// at R = 2 and 4 and check the outcome of each scenario: exact results, the bytes counted per
// call kind against the formulas of docs/distributed.md §1.3, and the error cases, where every
// rank must end, non-zero, within seconds, with one line from the program.
//
// Exactness: the summed values are small integers, so every partial sum is exact in float and
// any reduction order MPI picks gives the same bits; the program compares with ==. Its rounded
// case (random floats) checks the sum within R ulp-scale of the double sum and that all ranks
// hold identical bits.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "../support/mpirun.h"

namespace moet::dist {
namespace {

namespace fs = std::filesystem;

class DistMpirun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::have_mpirun())
      GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
    dir_ = fs::temp_directory_path() /
           fmt::format("moet_dist_{}_{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // mpirun with these arguments after the common ones; seconds is how long it took.
  testing::ProcessResult mpirun(const std::vector<std::string>& args, double* seconds = nullptr) {
    return testing::mpirun(args, dir_.string(), seconds);
  }
  testing::ProcessResult ranks(int np, const std::string& scenario, double* seconds = nullptr) {
    return mpirun({"-np", std::to_string(np), DIST_RANKS_BINARY, scenario}, seconds);
  }

  fs::path dir_;
};

std::vector<std::string> program_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("dist_ranks:")) out.push_back(line);
  return out;
}

// Bytes rank r must count per call kind for the sequence of `dist_ranks collectives`, from the
// formulas of docs/distributed.md §1.3 (ring allreduce 2 (R-1)/R n, reduce-scatter and
// all-gather (R-1) blocks, all-to-all-v what goes to other ranks, broadcast n at the root).
std::map<std::string, int64_t> expected_bytes(int r, int R) {
  const int64_t n = 1001, shard = (n + R - 1) / R;
  int64_t rows_out = 0;
  for (int d = 0; d < R; ++d)
    if (d != r)
      for (int j = 0; j < 2; ++j) rows_out += (r + 2 * d + j) % 3;
  return {{"allreduce", 2 * (2 * (R - 1) * n * 4 / R) + 2 * (R - 1) * 24 / R},
          {"reduce_scatter", (R - 1) * shard * 4},
          {"all_gather", (R - 1) * n * 4 + (R - 1) * shard * 4 + (R - 1) * 8},
          {"all_to_all", (R - 1) * 2 * 8 + rows_out * 4 * 4},
          {"broadcast", r == R - 1 ? 17 * 8 : 0},
          {"barrier", 0}};
}

void expect_collectives_pass(const testing::ProcessResult& r, int R) {
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::regex traffic(R"(traffic rank (\d+) (\w+) calls (\d+) bytes (\d+))");
  int lines = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), traffic);
       it != std::sregex_iterator(); ++it, ++lines) {
    const int rank = std::stoi((*it)[1]);
    EXPECT_EQ(std::stoll((*it)[4]), expected_bytes(rank, R).at((*it)[2]))
        << "rank " << rank << " " << (*it)[2] << "\n"
        << r.out;
  }
  EXPECT_EQ(lines, 6 * R) << r.out;
  for (int rank = 0; rank < R; ++rank)
    EXPECT_NE(r.out.find(fmt::format("rank {} of {}: collectives ok", rank, R)), std::string::npos)
        << r.out;
}

TEST_F(DistMpirun, EveryCollectiveGivesTheLocalReferenceAndCountsItsBytesAtTwoRanks) {
  expect_collectives_pass(ranks(2, "collectives"), 2);
}

TEST_F(DistMpirun, EveryCollectiveGivesTheLocalReferenceAndCountsItsBytesAtFourRanks) {
  expect_collectives_pass(ranks(4, "collectives"), 4);
}

// Groups by rank parity (two of two at R = 4; {0, 2} and {1} at R = 3) and groups of one: each
// group's collectives reach exactly its members, in world order, and count their own traffic.
TEST_F(DistMpirun, SplitGroupsRunCollectivesAmongTheirMembersOnly) {
  for (const int np : {4, 3}) {
    const auto r = ranks(np, "split");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    for (int rank = 0; rank < np; ++rank)
      EXPECT_NE(r.out.find(fmt::format("rank {}: split passed", rank)), std::string::npos)
          << "np " << np << "\n"
          << r.out << r.err;
  }
}

TEST_F(DistMpirun, DifferentConfigsStopEveryRankWithOneLine) {
  double seconds = 0;
  const auto r = ranks(2, "mismatch", &seconds);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(r.timed_out);
  EXPECT_LT(seconds, 10);
  const auto lines = program_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("dist_ranks: the config differs between "
                                                    "ranks: rank 0 has [0-9a-f]{16}; rank 1 has "
                                                    "[0-9a-f]{16}")))
      << lines[0];
}

// Two copies of the program that differ in one trailing byte (an ELF file ignores it), started
// as one world (MPMD): rank 0 runs one, rank 1 the other.
TEST_F(DistMpirun, DifferentBinariesStopEveryRankWithOneLine) {
  const fs::path a = dir_ / "dist_ranks_a", b = dir_ / "dist_ranks_b";
  fs::copy_file(DIST_RANKS_BINARY, a);
  fs::copy_file(DIST_RANKS_BINARY, b);
  std::ofstream(b, std::ios::app | std::ios::binary) << '\0';
  const auto same =
      mpirun({"-np", "1", a.string(), "binary", ":", "-np", "1", a.string(), "binary"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("rank 1: binary passed"), std::string::npos) << same.out;
  double seconds = 0;
  const auto r =
      mpirun({"-np", "1", a.string(), "binary", ":", "-np", "1", b.string(), "binary"}, &seconds);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_LT(seconds, 10);
  const auto lines = program_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_TRUE(lines[0].starts_with("dist_ranks: the moet executable (/proc/self/exe) differs "
                                   "between ranks: rank 0 has "))
      << lines[0];
}

TEST_F(DistMpirun, ARankThatThrowsEndsTheRanksWaitingForIt) {
  double seconds = 0;
  const auto r = ranks(2, "throw", &seconds);
  EXPECT_FALSE(r.timed_out) << "a rank waited forever for the one that threw";
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_LT(seconds, 10);
  const auto lines = program_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0], "dist_ranks: rank 1 of 2: injected failure on the last rank");
}

TEST_F(DistMpirun, ARankThatDiesEndsTheRanksWaitingForIt) {
  double seconds = 0;
  const auto r = ranks(2, "die", &seconds);
  EXPECT_FALSE(r.timed_out) << "a rank waited forever for the one that died";
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_LT(seconds, 10);
  EXPECT_NE(r.err.find("exited on signal 9"), std::string::npos) << r.err;
}

TEST_F(DistMpirun, AFailedMpiCallIsAnErrorNotAnAbort) {
  const auto r = ranks(2, "mpi-error");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_NE(r.out.find(fmt::format(
                  "rank {} caught: MPI_Bcast failed: MPI_ERR_ROOT: invalid root\n", rank)),
              std::string::npos)
        << r.out << r.err;
}

TEST_F(DistMpirun, AStepThatFailsOnOneRankFailsOnAllWithItsLine) {
  const auto r = ranks(2, "all-or-none");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto lines = program_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0], "dist_ranks: rank 1: config.toml: model.N: expected an integer");
}

}  // namespace
}  // namespace moet::dist
