// The memory check of a run (train/run_memory.h) and the bound on train.threads: both refuse
// with one line before anything large is allocated.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "train/run_memory.h"
#include "train/schema.h"
#include "train/train_config.h"
#include "train/trainer.h"
#include "train_fixture.h"

namespace moet {
namespace {

class RunMemoryTest : public testing::TrainFixture {
 protected:
  // A model small enough that a refused run is refused for the key under test alone.
  std::vector<std::string> tiny_sets() const override {
    return {"model.vocab=64",
            "model.seq=16",
            "model.N=16",
            "model.d_head=8",
            "model.L=1",
            "model.M=4",
            "model.K=2",
            "model.Ne=16",
            "train.batch=2",
            "train.steps=2",
            "train.eval_batches=1",
            "data.train=" + path("train.bin"),
            "data.val=" + path("val.bin")};
  }
  Config config(std::vector<std::string> extra = {}) const { return tiny_config(std::move(extra)); }

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
