// A sweep under the real mpirun (Debian's Open MPI) rather than under variables set by hand: the
// ranks mpirun starts share the trials, write one database at the same time, and fill it exactly
// as a local sweep of the same spec does, also with more ranks than trials. The spec's name has
// spaces and punctuation, and the spec and database sit under paths with spaces and quotes,
// which mpirun must hand through.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/run_binary.h"
#include "same_results.h"
#include "sweep/spec.h"
#include "sweep/sqlite.h"
#include "sweep_fixture.h"

namespace moet::sweep {
namespace {

using MpirunTest = testing::SweepFixture;

std::string quoted(const std::string& arg) { return shell_quote({arg}); }

TEST_F(MpirunTest, RanksOfARealMpirunFillTheDatabaseLikeALocalSweep) {
  if (!std::filesystem::exists("/usr/bin/mpirun"))
    GTEST_SKIP() << "needs Debian's openmpi-bin (./moet.sh test installs it)";
  const std::string spec = awkward_spec();
  const std::string db = path("db dir/sweep.sqlite");
  // Five ranks for four trials, as `mpirun -np 8` on a small spec would start: one rank has
  // nothing to do. The tests run as root in CI, which Open MPI refuses without
  // --allow-run-as-root; timeout bounds the wait should a rank hang.
  const auto r = testing::run_command(
      fmt::format("timeout 120 mpirun --allow-run-as-root --oversubscribe -np 5 {} sweep {} "
                  "--db {} --threads 1",
                  MOET_BINARY, quoted(spec), quoted(db)),
      dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (int rank = 0; rank < 4; ++rank)
    EXPECT_NE(r.out.find(fmt::format("running 1 (MPI rank {} of 5, from "
                                     "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE)",
                                     rank)),
              std::string::npos)
        << r.out;
  // Rank 4 has no trial; whether the others have finished theirs when it looks depends on timing
  // (RunnerTest.MpiRanksShareTheTrialsAndTrialRunsOne checks the first case deterministically).
  EXPECT_EQ(r.out.find("MPI rank 4 of 5, from"), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("; no unfinished trial falls to MPI rank 4 of 5\n") != std::string::npos ||
              r.out.find("; all finished earlier\n") != std::string::npos)
      << r.out;
  {
    sql::Db conn(db, sql::Access::read_only, 10000);
    auto q = conn.prepare("PRAGMA journal_mode");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_text(0), "delete") << "ranks may sit on several hosts: no WAL";
    while (q.step()) {}
  }
  testing::expect_same_as_local_sweep(spec, db, dir_.string());
}

}  // namespace
}  // namespace moet::sweep
