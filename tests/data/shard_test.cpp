// llm.c token shards: write/read round trips in both versions, and one clear error line naming
// the file for every way a shard can be broken.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "data/shard.h"
#include "data/token_stream.h"
#include "data_test_support.h"

namespace moet {
namespace {

std::string error_opening(const std::string& path) {
  try {
    MappedShard::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string header_bytes(int32_t magic, int32_t version, int32_t count) {
  std::string bytes(kShardHeaderBytes, '\0');
  const int32_t fields[3] = {magic, version, count};
  std::memcpy(bytes.data(), fields, sizeof fields);
  return bytes;
}

TEST(DataShard, RoundTripsUint16AndUint32) {
  testing::ScratchDir dir;
  const std::vector<int32_t> small = {0, 1, 2047, 65535, 7, 7};
  write_shard(dir / "v1.bin", small, 65536);
  const std::vector<int32_t> large = {0, 65536, 100000, 50256, 1 << 30};
  write_shard(dir / "v2.bin", large, (int64_t(1) << 30) + 1);

  const std::string raw = read_file(dir / "v1.bin");
  ASSERT_EQ(raw.size(), size_t(kShardHeaderBytes + 2 * small.size()));
  EXPECT_EQ(raw.substr(0, 12), header_bytes(kShardMagic, 1, 6).substr(0, 12));
  EXPECT_EQ(raw.substr(12, kShardHeaderBytes - 12), std::string(kShardHeaderBytes - 12, '\0'));

  TokenStream stream;
  stream.add_shard(dir / "v1.bin");
  stream.add_shard(dir / "v2.bin");
  ASSERT_EQ(stream.segments().size(), 2u);
  EXPECT_EQ(stream.segments()[0].bytes_per_token, 2);
  EXPECT_EQ(stream.segments()[1].bytes_per_token, 4);
  EXPECT_EQ(stream.size(), 11);
  std::vector<int32_t> back(small.size());
  stream.copy(0, 0, int64_t(small.size()), back.data());
  EXPECT_EQ(back, small);
  back.resize(large.size());
  stream.copy(1, 0, int64_t(large.size()), back.data());
  EXPECT_EQ(back, large);
  EXPECT_EQ(stream.max_token(), 1 << 30);
}

TEST(DataShard, EmptyShardIsValid) {
  testing::ScratchDir dir;
  write_shard(dir / "empty.bin", std::vector<int32_t>{}, 2048);
  EXPECT_EQ(MappedShard::open(dir / "empty.bin")->token_count(), 0);
}

TEST(DataShard, BrokenShardsGiveOneLineNamingTheFile) {
  testing::ScratchDir dir;
  const std::string tokens(2 * 10, '\x01');
  struct Case {
    std::string name, bytes, expected;
  };
  const std::vector<Case> cases = {
      {"short.bin", "abc",
       "truncated token shard: 3 bytes, shorter than the 1024-byte llm.c header"},
      {"magic.bin", header_bytes(12345, 1, 10) + tokens, "not an llm.c token shard (magic 12345"},
      {"version.bin", header_bytes(kShardMagic, 7, 10) + tokens,
       "unsupported token shard version 7"},
      {"truncated.bin", header_bytes(kShardMagic, 1, 10) + tokens.substr(0, 15),
       "truncated token shard: header says 10 tokens (1044 bytes) but the file has 1039 bytes"},
      {"truncated32.bin", header_bytes(kShardMagic, 2, 10) + tokens,
       "truncated token shard: header says 10 tokens (1064 bytes)"},
      {"long.bin", header_bytes(kShardMagic, 1, 10) + tokens + "xx", "corrupt token shard"},
      {"negative.bin", header_bytes(kShardMagic, 1, -5), "negative token count -5"},
  };
  for (const Case& c : cases) {
    write_file_atomic(dir / c.name, c.bytes);
    const std::string message = error_opening(dir / c.name);
    EXPECT_TRUE(message.starts_with(dir / c.name + ": ")) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  const std::string missing = error_opening(dir / "missing.bin");
  EXPECT_NE(missing.find(dir / "missing.bin" + ": cannot open"), std::string::npos) << missing;
}

}  // namespace
}  // namespace moet
