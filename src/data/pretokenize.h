// GPT-2's pre-tokenizer: splits text into the pieces BPE works inside, as the regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// would, written as a hand scanner (std::regex has no \p{L}; see unicode.h for the classes).
// Pieces tile the text exactly: concatenated, they give it back byte for byte.
#pragma once

#include <string_view>

namespace moet {

class PreTokenizer {
 public:
  explicit PreTokenizer(std::string_view text) : text_(text) {}
  // The next piece, or false at the end of the text.
  bool next(std::string_view& piece);

 private:
  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace moet
