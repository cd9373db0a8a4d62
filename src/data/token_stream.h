// TokenStream: the tokens of one split (train, val, ...) as a list of segments — mapped shards or
// tokens held in memory — read without copying them into one array. Batch windows never cross a
// segment boundary (shards are separate files; nothing says one continues the next).
// Copies share the segments, so a loader may keep its own copy cheaply.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moet {

class TokenStream {
 public:
  struct Segment {
    std::shared_ptr<const void> owner;  // keeps data alive: a MappedShard or a token vector
    const void* data = nullptr;
    int64_t size = 0;         // tokens
    int bytes_per_token = 2;  // 2 (uint16) or 4 (uint32)
    std::string source;       // file path, or a name for in-memory tokens
  };

  void add_shard(const std::string& path);
  // Stored as uint16 when every id fits.
  void add_tokens(std::vector<int32_t> tokens, const std::string& source);

  const std::vector<Segment>& segments() const { return segments_; }
  int64_t size() const;  // all segments
  // Copies tokens [start, start + count) of one segment as int32.
  void copy(size_t segment, int64_t start, int64_t count, int32_t* out) const;
  // Largest token id in the stream (-1 when empty); scans every token.
  int32_t max_token() const;

 private:
  std::vector<Segment> segments_;
};

}  // namespace moet
