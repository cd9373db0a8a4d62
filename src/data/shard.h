// Token shards in llm.c's .bin format, so shards made by llm.c / nanoGPT-style tooling (e.g.
// FineWeb's fineweb.py) are read as they are.
//
// Layout: a header of 256 little-endian int32 — [0] magic 20240520, [1] version (1: tokens are
// uint16, 2: uint32), [2] number of tokens, the rest zero — then the tokens. Readers map the file
// (mmap) instead of loading it, so a dataset of many GB costs no memory up front.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace moet {

constexpr int32_t kShardMagic = 20240520;
constexpr int64_t kShardHeaderBytes = 256 * 4;

// Writes tokens atomically; version 1 when vocab_size fits uint16, else version 2. Every token
// must be in [0, vocab_size).
void write_shard(const std::string& path, std::span<const int32_t> tokens, int64_t vocab_size);

// A shard mapped read-only. Opening checks the header against the file size; any mismatch throws
// an Error naming the file and what is wrong.
class MappedShard {
 public:
  static std::shared_ptr<const MappedShard> open(const std::string& path);
  ~MappedShard();
  MappedShard(const MappedShard&) = delete;
  MappedShard& operator=(const MappedShard&) = delete;

  const std::string& path() const { return path_; }
  int64_t token_count() const { return token_count_; }
  int bytes_per_token() const { return bytes_per_token_; }
  const void* tokens() const { return static_cast<const char*>(map_) + kShardHeaderBytes; }

 private:
  MappedShard() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  int64_t token_count_ = 0;
  int bytes_per_token_ = 2;
};

}  // namespace moet
