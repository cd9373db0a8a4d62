// The single-process world: what a plain `moet train` gets. It must make no MPI call (a process
// without a launcher never initialises MPI), and every collective must be the identity at R = 1
// with no bytes counted as sent.
#include <gtest/gtest.h>
#include <mpi.h>

#include <map>
#include <vector>

#include "../support/error_of.h"
#include "dist/agree.h"
#include "dist/all_to_all.h"
#include "dist/guard.h"
#include "dist/launch.h"

namespace moet::dist {
namespace {

using testing::error_of;

TEST(SingleWorld, APlainProcessGetsItWithoutInitialisingMpi) {
  ASSERT_EQ(detect_launch().mpi, false) << "run the tests without a launcher";
  const std::unique_ptr<World> world = make_world();
  EXPECT_EQ(world->size(), 1);
  EXPECT_EQ(world->rank(), 0);
  EXPECT_EQ(world->describe(), "single process");
  int initialized = -1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0) << "make_world called MPI_Init in a plain process";
}

TEST(SingleWorld, SplitGivesASingleWorld) {
  SingleWorld world;
  const std::unique_ptr<World> group = world.split(3);
  EXPECT_EQ(group->size(), 1);
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->describe(), "single process");
  std::vector<double> data = {0.5, 2.0};
  group->allreduce_sum(std::span(data));
  EXPECT_EQ(data, (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(group->traffic().total_bytes(), 0);
}

TEST(SingleWorld, CollectivesAreTheIdentityAndSendNothing) {
  SingleWorld world;
  std::vector<float> data = {1.5f, -2.0f, 3.25f};
  world.allreduce_sum(std::span(data));
  EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  std::vector<double> doubles = {0.1, 0.2};
  world.allreduce_sum(std::span(doubles));
  EXPECT_EQ(doubles, (std::vector<double>{0.1, 0.2}));

  std::vector<float> shard(3);
  world.reduce_scatter_sum(std::span<const float>(data), std::span(shard));
  EXPECT_EQ(shard, data);
  std::vector<float> gathered(3, 0.0f);
  world.all_gather(std::span<const float>(shard), std::span(gathered));
  EXPECT_EQ(gathered, data);
  world.all_gather(std::span<const float>(gathered), std::span(gathered));  // in place
  EXPECT_EQ(gathered, data);

  const std::vector<int64_t> counts = {3};
  std::vector<float> received(3);
  world.all_to_all_v(std::span<const float>(data), std::span<const int64_t>(counts),
                     std::span(received), std::span<const int64_t>(counts));
  EXPECT_EQ(received, data);
  EXPECT_EQ(exchange_counts(world, std::vector<int64_t>{4, 0, 2}), (std::vector<int64_t>{4, 0, 2}));

  world.broadcast(std::span(doubles), 0);
  EXPECT_EQ(doubles, (std::vector<double>{0.1, 0.2}));
  world.barrier();

  const Traffic& t = world.traffic();
  EXPECT_EQ(t.calls_of(CallKind::allreduce), 2);
  EXPECT_EQ(t.calls_of(CallKind::reduce_scatter), 1);
  EXPECT_EQ(t.calls_of(CallKind::all_gather), 2);
  EXPECT_EQ(t.calls_of(CallKind::all_to_all), 2);
  EXPECT_EQ(t.calls_of(CallKind::broadcast), 1);
  EXPECT_EQ(t.calls_of(CallKind::barrier), 1);
  EXPECT_EQ(t.total_bytes(), 0) << "nothing leaves a single process";
  world.reset_traffic();
  EXPECT_EQ(world.traffic().calls_of(CallKind::allreduce), 0);
}

TEST(SingleWorld, ErrorsPropagateUnchangedThroughTheGuard) {
  SingleWorld world;
  EXPECT_EQ(run_guarded(world, "moet train", 2, [] { return 7; }), 7);
  EXPECT_EQ(error_of([&] { run_guarded(world, "moet train", 2, []() -> int { fail("bad"); }); }),
            "bad");
  check_same(world, "the config", "anything");  // one rank always agrees with itself
  EXPECT_EQ(error_of([&] { all_or_none(world, [] { fail("config.toml: model.N: bad"); }); }),
            "config.toml: model.N: bad");
  EXPECT_THROW(all_or_none(world, [] { fail("x"); }), AgreedError);
  all_or_none(world, [] {});
}

TEST(Fnv1a64, MatchesTheReferenceVectors) {
  // The FNV reference values for "" and "a" (FNV-1a, 64-bit).
  EXPECT_EQ(fnv1a64({}), 0xcbf29ce484222325ull);
  const char a = 'a';
  EXPECT_EQ(fnv1a64(std::as_bytes(std::span(&a, 1))), 0xaf63dc4c8601ec8cull);
}

TEST(DetectLaunch, ReadsEachLauncherAndRefusesSrunWithoutPmi) {
  auto detect = [](std::map<std::string, std::string> vars) {
    return detect_launch([&](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  EXPECT_FALSE(detect({}).mpi);
  EXPECT_EQ(detect({{"OMPI_COMM_WORLD_SIZE", "2"}, {"PMIX_RANK", "0"}}).source,
            "OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(
      detect({{"PMIX_RANK", "3"}, {"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "4"}}).source,
      "PMIX_RANK");
  EXPECT_EQ(detect({{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}}).source, "PMI_RANK/PMI_SIZE");
  EXPECT_FALSE(detect({{"PMI_RANK", "1"}}).mpi) << "PMI_RANK alone is not a launcher";
  EXPECT_FALSE(detect({{"OMPI_COMM_WORLD_SIZE", ""}}).mpi);
  // A batch script (no step) and a one-task step are one process.
  EXPECT_FALSE(detect({{"SLURM_JOB_ID", "7"}, {"SLURM_STEP_NUM_TASKS", "4"}}).mpi);
  EXPECT_FALSE(detect({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"}}).mpi);
  EXPECT_EQ(error_of([&] {
              detect({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "4"}});
            }),
            "environment: an srun step of \"4\" tasks (SLURM_STEP_NUM_TASKS) but no PMI variables "
            "(PMIX_RANK, PMI_RANK): run srun --mpi=pmix so the tasks form one MPI world");
}

}  // namespace
}  // namespace moet::dist
