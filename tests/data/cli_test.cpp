// The data commands through the real binary: `moet data prepare` end to end (shards a Dataset
// then opens), `moet tokenizer train/encode`, and one-line errors with exit status 2.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "data/bpe_encoder.h"
#include "data/dataset.h"
#include "data/embedded.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "data_test_support.h"

namespace moet {
namespace {

const std::string kSpeeches =
    "Fellow-Citizens of the Senate and House of Representatives: I congratulate you.\n\n"
    "To the Congress of the United States: the state of the Union is strong.\n"
    "A second paragraph of the same speech.\n\n"
    "  \n"
    "Mr. Speaker, Madam Vice President — our union is sound, naïve as that may seem.\n";

TEST(DataPrepare, WritesShardsThatOpenAsADataset) {
  testing::ScratchDir dir;
  write_file_atomic(dir / "speeches.txt", kSpeeches);
  const auto result = testing::run_moet("data prepare --input '" + dir / "speeches.txt" +
                                        "' --out '" + dir / "out" + "' --val-fraction 0.3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("3 documents"), std::string::npos) << result.output;
  for (const char* name : {"train_000000.bin", "val_000000.bin", "encoder.json", "vocab.bpe"})
    EXPECT_TRUE(file_exists(dir / "out/" + name)) << name;

  DataConfig config;
  config.train = dir / "out";
  const Dataset data = Dataset::open(config);
  ASSERT_NE(data.tokenizer(), nullptr);  // found beside the shards
  EXPECT_EQ(data.vocab_size(), 2048);
  // Each document is <|endoftext|> + its own encoding; the last one is the val split.
  const Tokenizer& tokenizer = bundled_tokenizer();
  const std::string last =
      "Mr. Speaker, Madam Vice President — our union is sound, naïve as that may seem.";
  std::vector<int32_t> expected_val = {tokenizer.eot()};
  BpeEncoder(tokenizer).encode(last, expected_val);
  ASSERT_EQ(data.val_tokens(), int64_t(expected_val.size()));
  std::vector<int32_t> val(expected_val.size());
  data.val().copy(0, 0, int64_t(val.size()), val.data());
  EXPECT_EQ(val, expected_val);
  std::vector<int32_t> train(data.train_tokens());
  data.train().copy(0, 0, int64_t(train.size()), train.data());
  EXPECT_EQ(tokenizer.decode(train),
            "<|endoftext|>Fellow-Citizens of the Senate and House of Representatives: I "
            "congratulate you.<|endoftext|>To the Congress of the United States: the state of the "
            "Union is strong.\nA second paragraph of the same speech.");

  // A smaller second run into the same directory leaves no stale shards behind.
  const auto again =
      testing::run_moet("data prepare --input '" + dir / "speeches.txt" + "' --out '" +
                        dir / "out" + "' --val-fraction 0.3 --shard-tokens 8");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(file_exists(dir / "out/train_000001.bin"));
  const auto small = testing::run_moet("data prepare --input '" + dir / "speeches.txt" +
                                       "' --out '" + dir / "out" + "' --val-fraction 0.3");
  ASSERT_EQ(small.exit_code, 0) << small.output;
  EXPECT_FALSE(file_exists(dir / "out/train_000001.bin"));
}

TEST(DataPrepare, BadInputIsOneLineAndExitStatus2) {
  testing::ScratchDir dir;
  const auto missing = testing::run_moet("data prepare --input '" + dir / "nope.txt" + "' --out '" +
                                         dir / "out" + "'");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find(dir / "nope.txt" + ": cannot open"), std::string::npos)
      << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
  const auto bad_fraction =
      testing::run_moet("data prepare --out '" + dir / "out" + "' --val-fraction 0.9");
  EXPECT_EQ(bad_fraction.exit_code, 2);
  EXPECT_NE(bad_fraction.output.find("--val-fraction"), std::string::npos) << bad_fraction.output;
  write_file_atomic(dir / "bad.bin", "not a shard");
  const auto bad_shard = testing::run_moet("data info --set data.train='" + dir / "bad.bin" +
                                           "' --set data.val='" + dir / "bad.bin" + "'");
  EXPECT_EQ(bad_shard.exit_code, 2);
  EXPECT_NE(bad_shard.output.find(dir / "bad.bin" + ": truncated token shard"), std::string::npos)
      << bad_shard.output;
}

TEST(DataTokenizerCommand, TrainThenEncodeRoundTrips) {
  testing::ScratchDir dir;
  write_file_atomic(dir / "text.txt", kSpeeches + kSpeeches);
  const auto trained = testing::run_moet("tokenizer train --vocab 300 --input '" +
                                         dir / "text.txt" + "' --out '" + dir / "tok" + "'");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("trained vocabulary 300"), std::string::npos) << trained.output;
  const auto encoded =
      testing::run_moet("tokenizer encode --tokenizer '" + dir / "tok" + "'", dir / "text.txt");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
  std::vector<int32_t> ids;
  std::istringstream in(encoded.output);
  for (int32_t id; in >> id;) ids.push_back(id);
  const Tokenizer tokenizer = Tokenizer::load(dir / "tok");
  EXPECT_EQ(ids, encode_text(tokenizer, kSpeeches + kSpeeches));
  EXPECT_EQ(tokenizer.decode(ids), kSpeeches + kSpeeches);
}

}  // namespace
}  // namespace moet
