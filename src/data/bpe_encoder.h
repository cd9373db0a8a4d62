// BpeEncoder: text -> token ids with a Tokenizer, remembering every piece it has encoded.
//
// Text is split by the GPT-2 pre-tokenizer; each piece's bytes are merged by rank. English text
// repeats a few tens of thousands of distinct pieces millions of times, so a cache from piece to
// ids makes encoding a hash lookup per piece. A piece is merged with a heap over adjacent pairs
// (O(n log n)), so even a megabyte without spaces encodes in time. Not thread-safe: use one
// encoder per thread. Encoding never produces special tokens such as <|endoftext|>.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/tokenizer.h"

namespace moet {

class BpeEncoder {
 public:
  explicit BpeEncoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Appends the ids of text to out.
  void encode(std::string_view text, std::vector<int32_t>& out);
  size_t cached_pieces() const { return cache_.size(); }

 private:
  void merge_piece(std::string_view piece, std::vector<int32_t>& out);

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const Tokenizer& tokenizer_;
  // piece -> (offset, count) of its ids in cached_ids_.
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, Hash, std::equal_to<>> cache_;
  std::vector<int32_t> cached_ids_;
  // Scratch for merge_piece, kept to avoid allocating per piece.
  std::vector<int32_t> ids_, prev_, next_;
  std::vector<int32_t> piece_ids_;
};

// One-shot convenience: the ids of text.
std::vector<int32_t> encode_text(const Tokenizer& tokenizer, std::string_view text);

}  // namespace moet
