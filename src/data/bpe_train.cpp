#include "data/bpe_train.h"

#include <algorithm>
#include <queue>
#include <tuple>

#include "core/error.h"
#include "data/byte_unicode.h"
#include "data/pretokenize.h"

namespace moet {

void PieceCounter::add_text(std::string_view text) {
  PreTokenizer pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) {
    if (const auto it = counts_.find(piece); it != counts_.end())
      ++it->second;
    else
      counts_.emplace(std::string(piece), 1);
  }
}

namespace {

// Heap entry; the top is the largest count, ties to the smallest (left, right).
struct Candidate {
  int64_t count;
  int32_t left;
  int32_t right;
  bool operator<(const Candidate& other) const {
    return std::tie(count, other.left, other.right) < std::tie(other.count, left, right);
  }
};

// Adds weight to the count change of every adjacent pair in word.
void count_pairs(const std::vector<int32_t>& word, int64_t weight,
                 std::unordered_map<uint64_t, int64_t>& changes) {
  for (size_t i = 0; i + 1 < word.size(); ++i)
    changes[Tokenizer::pair_key(word[i], word[i + 1])] += weight;
}

// The merge loop's state: the vocabulary so far, every distinct word as token ids, the count of
// each adjacent pair over all words, which words hold each pair, and a heap of candidate pairs
// whose entries may be stale (checked against pair_counts when popped).
class BpeTrainer {
 public:
  explicit BpeTrainer(const PieceCounter::Counts& piece_counts) : byte_ids_(gpt2_byte_ids()) {
    tokens_.resize(256);
    for (int b = 0; b < 256; ++b) tokens_[byte_ids_[b]] = std::string(1, char(b));
    for (int32_t id = 0; id < 256; ++id) id_of_token_[tokens_[id]] = id;
    split_words(piece_counts);
  }

  // Merges the most frequent pair until the vocabulary (with <|endoftext|>) has vocab_size
  // tokens or no pair is left.
  Tokenizer train(int64_t vocab_size) && {
    Candidate top;
    while (int64_t(tokens_.size()) < vocab_size - 1 && pop_most_frequent(top)) {
      const int32_t result = token_of(top.left, top.right);
      merges_.push_back({top.left, top.right, result});
      merge_in_words(top.left, top.right, result);
    }
    const int32_t eot = int32_t(tokens_.size());
    tokens_.emplace_back(kEndOfText);
    return Tokenizer::from_parts(std::move(tokens_), byte_ids_, std::move(merges_), eot);
  }

 private:
  // Words in sorted order, so hash-map iteration order cannot leak into the result.
  void split_words(const PieceCounter::Counts& piece_counts) {
    std::vector<std::pair<std::string_view, int64_t>> sorted;
    sorted.reserve(piece_counts.size());
    for (const auto& [piece, count] : piece_counts) sorted.emplace_back(piece, count);
    std::sort(sorted.begin(), sorted.end());
    words_.resize(sorted.size());
    word_counts_.resize(sorted.size());
    for (size_t w = 0; w < sorted.size(); ++w) {
      for (char c : sorted[w].first) words_[w].push_back(byte_ids_[uint8_t(c)]);
      word_counts_[w] = sorted[w].second;
      for (size_t i = 0; i + 1 < words_[w].size(); ++i) {
        const uint64_t key = Tokenizer::pair_key(words_[w][i], words_[w][i + 1]);
        pair_counts_[key] += word_counts_[w];
        words_with_pair_[key].push_back(uint32_t(w));
      }
    }
    for (const auto& [key, count] : pair_counts_)
      heap_.push({count, int32_t(key >> 32), int32_t(uint32_t(key))});
  }

  // The pair with the largest true count; false when none is left.
  bool pop_most_frequent(Candidate& top) {
    while (!heap_.empty()) {
      top = heap_.top();
      heap_.pop();
      const auto found = pair_counts_.find(Tokenizer::pair_key(top.left, top.right));
      const int64_t count = found == pair_counts_.end() ? 0 : found->second;
      if (count == top.count) return true;
      // Entries go stale as counts fall; re-queue with the true count and look again.
      if (count > 0) heap_.push({count, top.left, top.right});
    }
    return false;
  }

  // The token of left's bytes followed by right's, new unless the same bytes were already
  // made from a different pair.
  int32_t token_of(int32_t left, int32_t right) {
    const std::string merged_text = tokens_[left] + tokens_[right];
    if (const auto it = id_of_token_.find(merged_text); it != id_of_token_.end()) return it->second;
    const int32_t result = int32_t(tokens_.size());
    tokens_.push_back(merged_text);
    id_of_token_.emplace(merged_text, result);
    return result;
  }

  // Rewrites every word holding (left, right) with result, then updates the pair counts, the
  // pair -> words index and the heap.
  void merge_in_words(int32_t left, int32_t right, int32_t result) {
    const uint64_t key = Tokenizer::pair_key(left, right);
    std::vector<uint32_t> affected = std::move(words_with_pair_[key]);
    words_with_pair_.erase(key);
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
    count_changes_.clear();
    for (uint32_t w : affected) {
      std::vector<int32_t>& word = words_[w];
      merged_word_.clear();
      bool changed = false;
      for (size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
          merged_word_.push_back(result);
          ++i;
          changed = true;
        } else {
          merged_word_.push_back(word[i]);
        }
      }
      if (!changed) continue;  // listed under this pair before an earlier merge removed it
      count_pairs(word, -word_counts_[w], count_changes_);
      count_pairs(merged_word_, word_counts_[w], count_changes_);
      for (size_t i = 0; i + 1 < merged_word_.size(); ++i)
        if (merged_word_[i] == result || merged_word_[i + 1] == result)
          words_with_pair_[Tokenizer::pair_key(merged_word_[i], merged_word_[i + 1])].push_back(w);
      word.swap(merged_word_);
    }
    apply_count_changes();
  }

  void apply_count_changes() {
    for (const auto& [changed_key, change] : count_changes_) {
      if (change == 0) continue;
      int64_t& updated = pair_counts_[changed_key];
      updated += change;
      MOET_CHECK(updated >= 0);
      if (updated == 0)
        pair_counts_.erase(changed_key);
      else if (change > 0)
        heap_.push({updated, int32_t(changed_key >> 32), int32_t(uint32_t(changed_key))});
    }
  }

  const std::array<int32_t, 256>& byte_ids_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> id_of_token_;
  std::vector<Tokenizer::Merge> merges_;
  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> word_counts_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> words_with_pair_;
  std::priority_queue<Candidate> heap_;
  std::unordered_map<uint64_t, int64_t> count_changes_;  // per merge, reused
  std::vector<int32_t> merged_word_;                     // per word, reused
};

}  // namespace

Tokenizer train_bpe(const PieceCounter::Counts& piece_counts, int64_t vocab_size) {
  if (vocab_size < 257)
    fail("vocabulary size {} is too small: 256 byte tokens and <|endoftext|> need 257", vocab_size);
  if (vocab_size > (int64_t(1) << 30)) fail("vocabulary size {} is too large", vocab_size);
  return BpeTrainer(piece_counts).train(vocab_size);
}

}  // namespace moet
