#include "data/token_stream.h"

#include <algorithm>

#include "core/error.h"
#include "data/shard.h"

namespace moet {

void TokenStream::add_shard(const std::string& path) {
  std::shared_ptr<const MappedShard> shard = MappedShard::open(path);
  Segment segment;
  segment.data = shard->tokens();
  segment.size = shard->token_count();
  segment.bytes_per_token = shard->bytes_per_token();
  segment.source = path;
  segment.owner = std::move(shard);
  segments_.push_back(std::move(segment));
}

void TokenStream::add_tokens(std::vector<int32_t> tokens, const std::string& source) {
  Segment segment;
  segment.size = int64_t(tokens.size());
  segment.source = source;
  const bool fits_uint16 =
      std::all_of(tokens.begin(), tokens.end(), [](int32_t t) { return t >= 0 && t < 65536; });
  if (fits_uint16) {
    auto narrow = std::make_shared<std::vector<uint16_t>>(tokens.begin(), tokens.end());
    segment.data = narrow->data();
    segment.bytes_per_token = 2;
    segment.owner = std::move(narrow);
  } else {
    MOET_CHECK(std::all_of(tokens.begin(), tokens.end(), [](int32_t t) { return t >= 0; }));
    auto wide = std::make_shared<std::vector<int32_t>>(std::move(tokens));
    segment.data = wide->data();
    segment.bytes_per_token = 4;
    segment.owner = std::move(wide);
  }
  segments_.push_back(std::move(segment));
}

int64_t TokenStream::size() const {
  int64_t total = 0;
  for (const auto& s : segments_) total += s.size;
  return total;
}

void TokenStream::copy(size_t segment, int64_t start, int64_t count, int32_t* out) const {
  const Segment& s = segments_.at(segment);
  MOET_CHECK(start >= 0 && count >= 0 && start + count <= s.size);
  if (s.bytes_per_token == 2) {
    const uint16_t* tokens = static_cast<const uint16_t*>(s.data) + start;
    for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
  } else {
    const uint32_t* tokens = static_cast<const uint32_t*>(s.data) + start;
    for (int64_t i = 0; i < count; ++i) out[i] = int32_t(tokens[i]);
  }
}

int32_t TokenStream::max_token() const {
  int64_t max_id = -1;
  for (const auto& s : segments_) {
    if (s.bytes_per_token == 2) {
      const uint16_t* tokens = static_cast<const uint16_t*>(s.data);
      uint16_t m = 0;
      for (int64_t i = 0; i < s.size; ++i) m = std::max(m, tokens[i]);
      if (s.size) max_id = std::max<int64_t>(max_id, m);
    } else {
      const uint32_t* tokens = static_cast<const uint32_t*>(s.data);
      uint32_t m = 0;
      for (int64_t i = 0; i < s.size; ++i) m = std::max(m, tokens[i]);
      // uint32 shards may hold ids no int32 vocabulary can index.
      if (m > uint32_t(INT32_MAX)) fail("{}: token id {} does not fit int32", s.source, m);
      if (s.size) max_id = std::max<int64_t>(max_id, m);
    }
  }
  return int32_t(max_id);
}

}  // namespace moet
