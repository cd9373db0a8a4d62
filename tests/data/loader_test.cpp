// Dataset and BatchLoader: determinism, exact resume through JSON, the fixed validation
// sequence, windows that stay inside one shard, data.* config validation, and the bundled data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <numeric>
#include <set>

#include "core/error.h"
#include "data/dataset.h"
#include "data/shard.h"
#include "data_test_support.h"
#include "train/schema.h"

namespace moet {
namespace {

// Shards whose token at position i of shard s is s * 1000 + i, so a window shows where it came
// from.
void write_counting_shards(const testing::ScratchDir& dir, const std::string& role,
                           const std::vector<int>& sizes) {
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::vector<int32_t> tokens(sizes[s]);
    std::iota(tokens.begin(), tokens.end(), int32_t(s * 1000));
    write_shard(dir / fmt::format("{}_{:06d}.bin", role, s), tokens, 4096);
  }
}

Dataset open_dir(const testing::ScratchDir& dir) {
  DataConfig config;
  config.train = dir.str();
  return Dataset::open(config);
}

struct Batch {
  std::vector<int32_t> inputs, targets;
  bool operator==(const Batch&) const = default;
};

Batch next_batch(BatchLoader& loader, int64_t B, int64_t T) {
  Batch batch{std::vector<int32_t>(B * T), std::vector<int32_t>(B * T)};
  loader.next(batch.inputs.data(), batch.targets.data());
  return batch;
}

TEST(Dataset, OpensAShardDirectory) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {300, 200});
  write_counting_shards(dir, "val", {100});
  const Dataset data = open_dir(dir);
  EXPECT_EQ(data.train_tokens(), 500);
  EXPECT_EQ(data.val_tokens(), 100);
  EXPECT_EQ(data.vocab_size(), 1200);  // largest id 1199, no tokenizer beside the shards
  EXPECT_EQ(data.tokenizer(), nullptr);
  EXPECT_TRUE(data.extra_val().empty());
  EXPECT_NE(data.describe().find("train 500 tokens from 2 shards"), std::string::npos)
      << data.describe();

  DataConfig glob;
  glob.train = dir / "train_*.bin";
  glob.val = dir / "val_000000.bin";
  glob.vocab_size = 4096;
  const Dataset by_glob = Dataset::open(glob);
  EXPECT_EQ(by_glob.train_tokens(), 500);
  EXPECT_EQ(by_glob.vocab_size(), 4096);
}

TEST(Dataset, BadDataNamesTheKeyOrFile) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {300});
  const auto error_of = [](const DataConfig& config) {
    try {
      Dataset::open(config);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  DataConfig missing;
  missing.train = dir / "nope.bin";
  EXPECT_NE(error_of(missing).find("data.train: '" + dir / "nope.bin" + "' does not exist"),
            std::string::npos);
  DataConfig no_match;
  no_match.train = dir / "x_*.bin";
  EXPECT_NE(error_of(no_match).find("data.train: no files match"), std::string::npos);
  DataConfig no_val;
  no_val.train = dir.str();  // a directory with train shards only
  EXPECT_NE(error_of(no_val).find("data.val: no val shards"), std::string::npos);
  DataConfig file_with_bundled_val;
  file_with_bundled_val.train = dir / "train_000000.bin";
  EXPECT_NE(error_of(file_with_bundled_val).find("data.val: 'bundled' goes with bundled"),
            std::string::npos);
  DataConfig small_vocab;
  small_vocab.train = small_vocab.val = dir / "train_000000.bin";
  small_vocab.vocab_size = 100;
  EXPECT_NE(
      error_of(small_vocab).find("data.vocab_size: 100 is too small, the tokens reach id 299"),
      std::string::npos);
  DataConfig bad_tokenizer;
  bad_tokenizer.tokenizer = dir.str();
  EXPECT_NE(error_of(bad_tokenizer).find("data.tokenizer: " + dir.str() + ": not a tokenizer"),
            std::string::npos);
}

TEST(DataConfig, KeysValidateAndNameTheKey) {
  Config config(full_config_schema());
  EXPECT_EQ(data_config_from(config).train, "bundled");
  config.set("data.val_fraction", "0.7");
  try {
    data_config_from(config);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("data.val_fraction:")) << e.what();
  }
  config.set("data.val_fraction", "0.1");
  config.set("data.train", "/some/shards");
  const DataConfig d = data_config_from(config);
  EXPECT_EQ(d.train, "/some/shards");
  EXPECT_DOUBLE_EQ(d.val_fraction, 0.1);
}

TEST(DataBatchLoader, TrainingBatchesAreDeterministicWindowsInsideOneShard) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {40, 25, 5});  // the last shard is too short for a window
  write_counting_shards(dir, "val", {50});
  const Dataset data = open_dir(dir);
  const int64_t B = 4, T = 8;
  BatchLoader a(data, Split::train, B, T, 42), b(data, Split::train, B, T, 42),
      other(data, Split::train, B, T, 43);
  std::set<int32_t> shards_seen;
  bool differs = false;
  for (int step = 0; step < 50; ++step) {
    const Batch batch = next_batch(a, B, T);
    EXPECT_EQ(batch, next_batch(b, B, T));
    differs |= !(batch == next_batch(other, B, T));
    for (int64_t row = 0; row < B; ++row) {
      const int32_t first = batch.inputs[row * T];
      shards_seen.insert(first / 1000);
      for (int64_t t = 0; t < T; ++t) {
        // Consecutive tokens of a single shard; targets are the inputs shifted by one.
        EXPECT_EQ(batch.inputs[row * T + t], first + t);
        EXPECT_EQ(batch.targets[row * T + t], first + t + 1);
      }
    }
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(shards_seen, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(a.batches_per_pass(), 0);
}

TEST(DataBatchLoader, ResumeThroughJsonIsExact) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {500, 300});
  write_counting_shards(dir, "val", {100});
  const Dataset data = open_dir(dir);
  const int64_t B = 3, T = 16;
  BatchLoader original(data, Split::train, B, T, 7);
  for (int step = 0; step < 5; ++step) next_batch(original, B, T);
  const std::string saved = nlohmann::json(original.state()).dump();

  BatchLoader resumed(data, Split::train, B, T, 999);  // the seed is in the state
  resumed.restore(nlohmann::json::parse(saved).get<BatchLoader::State>());
  EXPECT_EQ(resumed.state().batches, 5);
  for (int step = 0; step < 10; ++step)
    EXPECT_EQ(next_batch(original, B, T), next_batch(resumed, B, T));

  BatchLoader wrong_shape(data, Split::train, B, T + 1, 7);
  EXPECT_THROW(wrong_shape.restore(original.state()), Error);
  BatchLoader wrong_split(data, Split::validation, B, T, 7);
  EXPECT_THROW(wrong_split.restore(original.state()), Error);
  EXPECT_THROW(nlohmann::json::parse(R"({"B": 3})").get<BatchLoader::State>(), Error);
}

TEST(DataBatchLoader, ValidationIsAFixedSequenceThatResets) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {100});
  write_counting_shards(dir, "val", {41, 31});  // windows at 0, 10, 20, 30 | 1000, 1010, 1020
  const Dataset data = open_dir(dir);
  const int64_t B = 2, T = 10;
  BatchLoader first(data, Split::validation, B, T, 1), second(data, Split::validation, B, T, 2);
  EXPECT_EQ(first.batches_per_pass(), 3);
  std::vector<int32_t> starts;
  for (int step = 0; step < 4; ++step) {
    const Batch batch = next_batch(first, B, T);
    EXPECT_EQ(batch, next_batch(second, B, T));  // the seed does not matter for validation
    for (int64_t row = 0; row < B; ++row) starts.push_back(batch.inputs[row * T]);
  }
  EXPECT_EQ(starts, (std::vector<int32_t>{0, 10, 20, 30, 1000, 1010, 1020, 0}));
  first.reset();
  EXPECT_EQ(next_batch(first, B, T).inputs[0], 0);
}

TEST(DataBatchLoader, RejectsDataShorterThanOneWindow) {
  testing::ScratchDir dir;
  write_counting_shards(dir, "train", {8});
  write_counting_shards(dir, "val", {8});
  const Dataset data = open_dir(dir);
  EXPECT_NO_THROW(BatchLoader(data, Split::train, 1, 7, 0));
  try {
    BatchLoader(data, Split::train, 1, 8, 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("T+1 = 9"), std::string::npos) << e.what();
  }
}

// The one heavier test: tokenizes the whole bundled corpus (about a second on 2 cores).
TEST(Dataset, BundledDataHasTrainValAndMoby) {
  const Dataset data = Dataset::open(DataConfig{});
  EXPECT_EQ(data.vocab_size(), 2048);
  ASSERT_NE(data.tokenizer(), nullptr);
  EXPECT_EQ(data.train_tokens() + data.val_tokens(), 2930867);  // `moet data prepare` agrees
  const double val_share =
      double(data.val_tokens()) / double(data.train_tokens() + data.val_tokens());
  EXPECT_GT(val_share, 0.03);
  EXPECT_LT(val_share, 0.07);
  ASSERT_EQ(data.extra_val().size(), 1u);
  EXPECT_EQ(data.extra_val()[0].name, "moby");
  EXPECT_GT(data.extra_val()[0].tokens.size(), 300000);
  // Val starts at a speech boundary: its first token is <|endoftext|>, then the speech opens.
  std::vector<int32_t> head(4);
  data.val().copy(0, 0, 4, head.data());
  EXPECT_EQ(head[0], data.tokenizer()->eot());
  EXPECT_NE(data.describe().find("bundled SOTU"), std::string::npos);
  BatchLoader moby(data.extra_val()[0].tokens, Split::validation, 2, 64, 0);
  std::vector<int32_t> inputs(128), targets(128);
  moby.next(inputs.data(), targets.data());
  EXPECT_TRUE(data.tokenizer()->decode(inputs).starts_with("<|endoftext|>ETYMOLOGY."));
}

}  // namespace
}  // namespace moet
