// A scratch directory with a small random-token corpus, and sweep specs of tiny models over it,
// so sweep tests train real trials in well under a second each.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../support/error_of.h"
#include "core/files.h"
#include "core/rng.h"
#include "data/shard.h"
#include "sweep/spec.h"

namespace moet::testing {

// A spec sweeping `lrs` (a TOML value for lr_log2) for completep-moe on a width ladder.
inline std::string ladder_spec(const std::string& config, const std::string& lrs,
                               const std::string& scales = "[1, 2]") {
  return config + "[grid]\nlr_log2 = " + lrs + "\n[[preset]]\nname = \"completep-moe\"\n" +
         "[[ladder]]\nname = \"width\"\naxes = [\"N\", \"Ne\"]\nscales = " + scales + "\n";
}

// The one-line Error expanding this spec text throws ("" if it expands), named "spec.toml".
inline std::string expansion_error(const std::string& spec_text) {
  return error_of([&] { sweep::expand_sweep(sweep::parse_sweep_spec(spec_text, "spec.toml")); });
}

class SweepFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("moet_sweep_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Rng rng(7, 0);
    std::vector<int32_t> tokens(20000);
    for (auto& t : tokens) t = int32_t(rng.below(64));
    write_shard(path("train.bin"), tokens, 64);
    tokens.resize(4000);
    write_shard(path("val.bin"), tokens, 64);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // [config] of a tiny MoE on the random corpus; extra lines are appended inside [config];
  // steps = 0 leaves train.steps out (for specs with a token budget).
  std::string tiny_config(const std::string& extra = "", int steps = 12, int log_every = 4) const {
    std::string text = "[config]\nmodel.vocab = 64\nmodel.seq = 16\nmodel.N = 16\nmodel.Ne = 16\n"
                       "model.M = 4\nmodel.K = 2\nmodel.L = 1\nmodel.d_head = 8\ntrain.batch = 4\n"
                       "train.eval_every = 0\ntrain.eval_batches = 2\n";
    if (steps > 0) text += "train.steps = " + std::to_string(steps) + "\n";
    text += "train.log_every = " + std::to_string(log_every) + "\n";
    text += "data.train = \"" + path("train.bin") + "\"\ndata.val = \"" + path("val.bin") + "\"\n";
    return text + extra;
  }

  std::string write_spec(const std::string& name, const std::string& text) const {
    write_file_atomic(path(name), text);
    return path(name);
  }

  // A two-LR spec whose file name and `name` carry what a shell, sbatch or mpirun could mangle:
  // spaces, quotes, '#', ':' and parentheses.
  std::string awkward_spec() const {
    return write_spec("spec 'paper' #1.toml", "name = \"paper 1: width (N, Ne) x8\"\n" +
                                                  ladder_spec(tiny_config(), "[-8, -7]"));
  }

  std::filesystem::path dir_;
};

}  // namespace moet::testing
