// The memory check of a run (train/run_memory.h) and the bound on train.threads: both refuse
// with one line before anything large is allocated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/rng.h"
#include "data/shard.h"
#include "train/run_memory.h"
#include "train/schema.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace moet {
namespace {

namespace fs = std::filesystem;

class RunMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moet_run_memory_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    Rng rng(3, 0);
    std::vector<int32_t> tokens(4000);
    for (auto& t : tokens) t = int32_t(rng.below(64));
    write_shard(path("train.bin"), tokens, 64);
    write_shard(path("val.bin"), tokens, 64);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  Config config(std::vector<std::string> extra = {}) const {
    std::vector<std::string> sets = {
        "model.vocab=64",  "model.seq=16", "model.N=16",       "model.d_head=8",
        "model.L=1",       "model.M=4",    "model.K=2",        "model.Ne=16",
        "train.batch=2",   "train.steps=2", "train.eval_batches=1",
        "data.train=" + path("train.bin"), "data.val=" + path("val.bin")};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return Config::load(full_config_schema(), "", sets);
  }

  std::string train_error(const Config& c) {
    TrainOptions options;
    options.out_dir = path("run");
    options.quiet = true;
    try {
      train(c, options);
    } catch (const Error& e) {
      return e.what();
    }
    return "trained";
  }

  fs::path dir_;
};

// Before the check, model.N = 10^6 threw std::bad_alloc out of train() (exit 134 from the CLI).
TEST_F(RunMemoryTest, ARunThatCannotFitIsRefusedBeforeItStarts) {
  const std::string error = train_error(config({"model.N=1000000"}));
  EXPECT_EQ(error.rfind("memory: ", 0), 0u) << error;
  EXPECT_NE(error.find("more than the"), std::string::npos) << error;
  EXPECT_FALSE(file_exists(path("run"))) << "nothing is written for a refused run";
}

TEST_F(RunMemoryTest, MaxMemoryIsTheLimitWhenGiven) {
  const std::string error = train_error(config({"train.max_memory=1MiB"}));
  EXPECT_NE(error.find("more than the 1.00 MiB allowed by train.max_memory"), std::string::npos)
      << error;
  const RunMemory fits = run_memory(config({"train.max_memory=64GiB"}), RunKind::train);
  EXPECT_TRUE(fits.fits());
  EXPECT_EQ(fits.limit, int64_t(64) << 30);
  EXPECT_NE(fits.line().find("estimated"), std::string::npos) << fits.line();
  EXPECT_NE(fits.line().find("of 64.0 GiB allowed by train.max_memory"), std::string::npos)
      << fits.line();
  EXPECT_EQ(train_error(config({"train.max_memory=1GiB"})), "trained");
}

TEST_F(RunMemoryTest, WhatARunKindHoldsBesideTheModel) {
  const auto total = [&](RunKind kind, std::vector<std::string> extra = {}) {
    return run_memory(config(extra), kind, 1).estimate.total;
  };
  const int64_t params = 4 * layout_counts(model_config_from(config())).parameters;
  // Adam's two moments; a checkpoint's 8 copies; resuming keeps 3 more.
  EXPECT_EQ(total(RunKind::train) - total(RunKind::train, {"train.save=false"}), 8 * params);
  EXPECT_EQ(total(RunKind::resume) - total(RunKind::train), 3 * params);
  EXPECT_EQ(total(RunKind::train, {"train.save=false"}) -
                total(RunKind::train, {"train.save=false", "optim.name=sgd"}),
            params);
  EXPECT_LT(total(RunKind::bench), total(RunKind::train, {"train.save=false"}));  // no data
}

// Before the bound, train.threads = 100000 crashed in OpenMP's start-up (segfault, exit 139).
TEST_F(RunMemoryTest, ThreadsAreBounded) {
  EXPECT_EQ(train_error(config({"train.threads=100000"})),
            "train.threads: at most 1024 (got 100000); 0 uses every core");
  EXPECT_NO_THROW(train_config_from(config({"train.threads=1024"})));
}

}  // namespace
}  // namespace moet
