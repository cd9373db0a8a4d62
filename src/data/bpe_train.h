// Training a byte-level BPE tokenizer from text, GPT-2 style.
//
// Text is pre-tokenized (pretokenize.h) and the distinct pieces counted; merges never cross
// pieces. Each step merges the most frequent adjacent pair; only the words containing that pair
// are revisited, and pair counts change by the difference, so a step costs what it touches.
// Deterministic: ties in pair count go to the pair with the smaller left token id, then the
// smaller right id (byte tokens have GPT-2's byte ids, printable bytes first; merged tokens are
// numbered in creation order). The vocabulary is 256 bytes + merges + <|endoftext|> as the last id.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "data/tokenizer.h"

namespace moet {

class PieceCounter {
 public:
  void add_text(std::string_view text);
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Counts = std::unordered_map<std::string, int64_t, Hash, std::equal_to<>>;
  const Counts& counts() const { return counts_; }

 private:
  Counts counts_;
};

// vocab_size counts the 256 byte tokens and <|endoftext|>; stops early (smaller vocabulary) when
// no pair is left to merge. Throws Error when vocab_size < 257.
Tokenizer train_bpe(const PieceCounter::Counts& piece_counts, int64_t vocab_size);

}  // namespace moet
