// A scratch directory with a small random-token corpus and the config of a tiny MoE over it, so
// training tests run real (short) runs, in process or through the binary, independent of
// tokenizing the bundled text.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/files.h"
#include "core/rng.h"
#include "data/shard.h"
#include "train/schema.h"

namespace moet::testing {

class TrainFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("moet_train_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Rng rng(5, 0);
    std::vector<int32_t> tokens(20000);
    for (auto& t : tokens) t = int32_t(rng.below(64));
    write_shard(path("train.bin"), tokens, 64);
    tokens.resize(4000);
    write_shard(path("val.bin"), tokens, 64);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  virtual std::vector<std::string> tiny_sets() const {
    return {"model.vocab=64",
            "model.seq=16",
            "model.N=32",
            "model.d_head=16",
            "model.L=2",
            "model.M=4",
            "model.K=2",
            "model.Ne=16",
            "train.batch=4",
            "train.accum=2",
            "train.steps=20",
            "train.eval_every=5",
            "train.eval_batches=2",
            "train.log_every=1",
            "optim.lr=0.01",
            "data.train=" + path("train.bin"),
            "data.val=" + path("val.bin")};
  }
  Config tiny_config(std::vector<std::string> extra = {}) const {
    auto sets = tiny_sets();
    sets.insert(sets.end(), extra.begin(), extra.end());
    return Config::load(full_config_schema(), "", sets);
  }
  std::string cli_sets(std::vector<std::string> extra = {}) const {
    std::string s;
    for (const auto& a : cli_set_args(std::move(extra))) s += " " + a;
    return s;
  }
  // The same overrides as separate arguments: --set k=v ...
  std::vector<std::string> cli_set_args(std::vector<std::string> extra = {}) const {
    auto sets = tiny_sets();
    sets.insert(sets.end(), extra.begin(), extra.end());
    std::vector<std::string> args;
    for (const auto& a : sets) args.insert(args.end(), {"--set", a});
    return args;
  }

  std::filesystem::path dir_;
};

// Metrics lines without the wall-clock fields, which no two runs share.
inline std::vector<nlohmann::json> deterministic_metrics(const std::string& run) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_file(run + "/metrics.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    auto json = nlohmann::json::parse(line);
    json.erase("tokens_per_s");
    lines.push_back(json);
  }
  return lines;
}

}  // namespace moet::testing
