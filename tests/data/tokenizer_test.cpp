// Byte-level BPE: training (determinism, tie rule), encoding round trips, the GPT-2 file format
// (a hand-made GPT-2-style pair in gpt2_mini/, ids checked against GPT-2's reference encoder.py),
// and the bundled tokenizer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "data/bpe_encoder.h"
#include "data/bpe_train.h"
#include "data/byte_unicode.h"
#include "data/embedded.h"
#include "data/tokenizer.h"
#include "data_test_support.h"

namespace moet {
namespace {

const std::string kSample =
    "We hold these truths to be self-evident, that all men are created equal. "
    "The world will little note, nor long remember what we say here.\n"
    "Naïve cafés in Zürich — “quoted” text; Москва and 北京 too. 1776, 1865 and 2021.\n";

Tokenizer train_on(const std::string& text, int64_t vocab_size) {
  PieceCounter counter;
  counter.add_text(text);
  return train_bpe(counter.counts(), vocab_size);
}

TEST(DataBpe, RoundTripsTextIncludingNonAsciiAndInvalidBytes) {
  const Tokenizer tokenizer = train_on(kSample + kSample, 400);
  EXPECT_EQ(tokenizer.vocab_size(), 400);
  EXPECT_EQ(tokenizer.eot(), 399);
  static constexpr char kRawBytes[] = "raw \xff\xfe\xc3 bytes\0 and nul";
  const std::string inputs[] = {kSample, "unseen words: Ωmega ünïcode 😀\t\n\n  x",
                                std::string(kRawBytes, sizeof kRawBytes - 1), ""};
  for (const std::string& text : inputs) {
    const std::vector<int32_t> ids = encode_text(tokenizer, text);
    EXPECT_EQ(tokenizer.decode(ids), text);
    for (int32_t id : ids) EXPECT_NE(id, tokenizer.eot());
  }
  // Merges learned from the text compress it: fewer tokens than bytes.
  EXPECT_LT(encode_text(tokenizer, kSample).size(), kSample.size() / 2);
}

TEST(DataBpe, CachedEncodingEqualsFreshEncoding) {
  const Tokenizer tokenizer = train_on(kSample, 320);
  BpeEncoder encoder(tokenizer);
  std::vector<int32_t> first, second;
  encoder.encode(kSample, first);
  encoder.encode(kSample, second);  // every piece now comes from the cache
  EXPECT_GT(encoder.cached_pieces(), 10u);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first, encode_text(tokenizer, kSample));
}

TEST(DataBpe, TrainingIsDeterministicWhateverTheCountOrder) {
  PieceCounter a, b;
  a.add_text(kSample);
  // Same multiset of pieces, inserted in another order: the hash map iterates differently.
  std::vector<std::string> lines = {kSample.substr(kSample.find('\n') + 1),
                                    kSample.substr(0, kSample.find('\n') + 1)};
  for (const auto& line : lines) b.add_text(line);
  ASSERT_EQ(a.counts(), b.counts());
  const Tokenizer first = train_bpe(a.counts(), 330), second = train_bpe(b.counts(), 330);
  EXPECT_EQ(first.encoder_json(), second.encoder_json());
  EXPECT_EQ(first.vocab_bpe(), second.vocab_bpe());
}

TEST(DataBpe, TiesGoToTheSmallerLeftThenRightId) {
  // "ab", "cd" and "ce" all occur twice; GPT-2 byte ids are 'a' 64, 'c' 66, 'd' 67, 'e' 68.
  PieceCounter::Counts counts{{"ab", 2}, {"ce", 2}, {"cd", 2}};
  const Tokenizer tokenizer = train_bpe(counts, 260);
  ASSERT_EQ(tokenizer.merge_count(), 3);
  const auto text = [&](const Tokenizer::Merge& m) {
    return tokenizer.token_bytes(m.left) + "+" + tokenizer.token_bytes(m.right);
  };
  EXPECT_EQ(text(tokenizer.merges()[0]), "a+b");
  EXPECT_EQ(text(tokenizer.merges()[1]), "c+d");
  EXPECT_EQ(text(tokenizer.merges()[2]), "c+e");
  // Counts first: a pair seen 3 times beats the tie.
  const Tokenizer by_count = train_bpe({{"ab", 2}, {"zz", 3}}, 258);
  EXPECT_EQ(by_count.token_bytes(by_count.merges()[0].result), "zz");
}

TEST(DataBpe, StopsWhenNoPairIsLeftAndRejectsTinyVocabularies) {
  const Tokenizer tokenizer = train_on("ab ab", 1000);
  EXPECT_LT(tokenizer.vocab_size(), 1000);  // only a handful of merges exist
  EXPECT_EQ(tokenizer.decode(encode_text(tokenizer, "ab ab")), "ab ab");
  EXPECT_THROW(train_on("ab", 256), Error);
}

TEST(DataGpt2Format, SaveLoadRoundTrip) {
  testing::ScratchDir dir;
  const Tokenizer trained = train_on(kSample, 350);
  trained.save(dir.str());
  const Tokenizer loaded = Tokenizer::load(dir.str());
  EXPECT_EQ(loaded.vocab_size(), trained.vocab_size());
  EXPECT_EQ(loaded.eot(), trained.eot());
  EXPECT_EQ(loaded.encoder_json(), trained.encoder_json());
  EXPECT_EQ(loaded.vocab_bpe(), trained.vocab_bpe());
  EXPECT_EQ(encode_text(loaded, kSample), encode_text(trained, kSample));
  EXPECT_TRUE(read_file(dir / "vocab.bpe").starts_with("#version: 0.2\n"));
}

TEST(DataGpt2Format, LoadsAGpt2StylePairAndEncodesLikeGpt2) {
  const Tokenizer tokenizer =
      Tokenizer::load(std::string(MOET_SOURCE_DIR) + "/tests/data/gpt2_mini");
  EXPECT_EQ(tokenizer.vocab_size(), 277);
  EXPECT_EQ(tokenizer.eot(), 276);
  EXPECT_EQ(tokenizer.merge_count(), 20);
  EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{276}), "<|endoftext|>");
  // Expected ids from GPT-2's encoder.py (bpe() + its regex) run on the same two files.
  EXPECT_EQ(encode_text(tokenizer, "the world and the café's in"),
            (std::vector<int32_t>{83, 257, 266, 261, 258, 273, 275, 268}));
  EXPECT_EQ(encode_text(tokenizer, "The  World,\n\nand thé\n"),
            (std::vector<int32_t>{51, 257, 220, 220, 54, 263, 265, 11, 198, 198, 64, 77, 67, 256,
                                  71, 269, 198}));
  EXPECT_EQ(encode_text(tokenizer, "caféé wor ld"),
            (std::vector<int32_t>{66, 64, 69, 269, 269, 264, 220, 265}));
  // GPT-2's byte ids: '!' is 0, space is 220, newline 198.
  EXPECT_EQ(tokenizer.byte_id('!'), 0);
  EXPECT_EQ(tokenizer.byte_id(' '), gpt2_byte_ids()[' ']);
  EXPECT_EQ(gpt2_byte_ids()[' '], 220);
}

TEST(DataGpt2Format, BadFilesNameTheFileAndLine) {
  const Tokenizer good = train_on(kSample, 300);
  const std::string encoder = good.encoder_json(), merges = good.vocab_bpe();
  const auto error_of = [](const std::string& encoder_text, const std::string& merges_text) {
    try {
      Tokenizer::from_gpt2(encoder_text, merges_text, "enc.json", "merges.bpe");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("{not json", merges).find("enc.json: invalid JSON at byte"),
            std::string::npos);
  EXPECT_NE(error_of("[1, 2]", merges).find("enc.json: expected a JSON object"), std::string::npos);
  EXPECT_NE(
      error_of(encoder, merges + "zz qq\n").find("merges.bpe:45: token \"zz\" is not in enc.json"),
      std::string::npos);
  EXPECT_NE(
      error_of(encoder, merges + "three tokens here\n").find("merges.bpe:45: expected two tokens"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"a": 0})", "").find("enc.json: byte token"), std::string::npos);
  EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer"), Error);
  EXPECT_THROW(good.decode(std::vector<int32_t>{300}), Error);
}

// Tables are sized by the number of entries: one huge id used to size them (2^30 - 1 made moet
// allocate ~32 GB and abort with std::bad_alloc).
TEST(DataGpt2Format, IdsNumberTheEntriesOnceEach) {
  const Tokenizer good = train_on(kSample, 300);
  const std::string merges = good.vocab_bpe();
  const auto error_with = [&](const std::string& token, nlohmann::json id) {
    nlohmann::json encoder = nlohmann::json::parse(good.encoder_json());
    encoder[token] = id;
    try {
      Tokenizer::from_gpt2(encoder.dump(), merges, "enc.json", "merges.bpe");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const int64_t entries = good.vocab_size() + 1;  // with the token added
  EXPECT_EQ(error_with("<|huge|>", (1 << 30) - 1),
            fmt::format("enc.json: token \"<|huge|>\" has id \"1073741823\", expected an integer "
                        "in [0, {}) (one id per entry)",
                        entries));
  EXPECT_EQ(error_with("zz", -1),
            fmt::format("enc.json: token \"zz\" has id \"-1\", expected an integer in [0, {}) (one "
                        "id per entry)",
                        entries));
  EXPECT_EQ(error_with("zz", 12.5).find("enc.json: token \"zz\" has id \"12.5\""), 0u);
  EXPECT_EQ(error_with("zz", "7").find("enc.json: token \"zz\" has id \"7\""), 0u);
  const std::string twice = error_with("zz", 7);
  EXPECT_EQ(twice.find("enc.json: id 7 is given to two tokens"), 0u) << twice;
  // The next free id is fine: a special token.
  EXPECT_EQ(error_with("<|pad|>", good.vocab_size()), "no error");
}

TEST(DataBundledTokenizer, IsTheShippedVocabulary) {
  const Tokenizer& tokenizer = bundled_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 2048);
  EXPECT_EQ(tokenizer.merge_count(), 1791);
  EXPECT_EQ(tokenizer.eot(), 2047);
  // Ids checked with GPT-2's encoder.py on corpus/tokenizer.
  EXPECT_EQ(encode_text(tokenizer, "Hello world, it's me.\n"),
            (std::vector<int32_t>{39, 1324, 78, 676, 11, 329, 602, 477, 13, 198}));
  const std::string text = "Fellow-Citizens of the Senate — naïve 北京 😀";
  EXPECT_EQ(tokenizer.decode(encode_text(tokenizer, text)), text);
}

}  // namespace
}  // namespace moet
