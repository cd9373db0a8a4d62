// Tokenizer: a byte-level BPE vocabulary (GPT-2 style) and its files.
//
// Tokens are byte strings: 256 single-byte tokens, one token per merge (the concatenation of a
// pair of earlier tokens), and special tokens such as <|endoftext|> that text never encodes to.
// On disk it is GPT-2's own pair of files, so GPT-2's tokenizer loads unchanged and moet's load
// in other GPT-2 tooling:
//   encoder.json  JSON object: token (in the byte_unicode.h spelling) -> id
//   vocab.bpe     "#version: 0.2", then one merge per line "left right", best (lowest rank) first
// Encoding lives in bpe_encoder.h, training in bpe_train.h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moet {

class Tokenizer {
 public:
  struct Merge {
    int32_t left;
    int32_t right;
    int32_t result;
  };

  // token_bytes[id] are the bytes of each id (a special token: its literal text); byte_ids maps
  // each byte to its token; merges are in rank order; eot is the <|endoftext|> id or -1.
  static Tokenizer from_parts(std::vector<std::string> token_bytes,
                              const std::array<int32_t, 256>& byte_ids, std::vector<Merge> merges,
                              int32_t eot);
  // GPT-2 files given as text; the sources name them in error messages.
  static Tokenizer from_gpt2(std::string_view encoder_json, std::string_view vocab_bpe,
                             const std::string& encoder_source, const std::string& vocab_source);
  // dir/encoder.json + dir/vocab.bpe.
  static Tokenizer load(const std::string& dir);
  // Writes dir/encoder.json and dir/vocab.bpe (atomically; creates dir).
  void save(const std::string& dir) const;
  std::string encoder_json() const;
  std::string vocab_bpe() const;

  int64_t vocab_size() const { return int64_t(tokens_.size()); }
  int64_t merge_count() const { return int64_t(merges_.size()); }
  const std::vector<Merge>& merges() const { return merges_; }
  int32_t eot() const { return eot_; }  // -1 when the vocabulary has no <|endoftext|>
  int32_t byte_id(uint8_t byte) const { return byte_ids_[byte]; }
  const std::string& token_bytes(int32_t id) const;
  // The rank of merging (left, right), or -1 when the pair never merges.
  int32_t merge_rank(int32_t left, int32_t right) const {
    const auto it = rank_of_pair_.find(pair_key(left, right));
    return it == rank_of_pair_.end() ? -1 : it->second;
  }
  // Ids -> bytes (special tokens as their text); an id outside the vocabulary is an Error.
  std::string decode(std::span<const int32_t> ids) const;

  static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
  }

 private:
  std::vector<std::string> tokens_;
  std::vector<bool> is_special_;
  std::array<int32_t, 256> byte_ids_{};
  std::vector<Merge> merges_;
  std::unordered_map<uint64_t, int32_t> rank_of_pair_;
  int32_t eot_ = -1;
};

inline constexpr std::string_view kEndOfText = "<|endoftext|>";

}  // namespace moet
