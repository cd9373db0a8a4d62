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
    if (const auto it = counts_.find(piece); it != counts_.end()) ++it->second;
    else counts_.emplace(std::string(piece), 1);
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

}  // namespace

Tokenizer train_bpe(const PieceCounter::Counts& piece_counts, int64_t vocab_size) {
  if (vocab_size < 257)
    fail("vocabulary size {} is too small: 256 byte tokens and <|endoftext|> need 257", vocab_size);
  if (vocab_size > (int64_t(1) << 30)) fail("vocabulary size {} is too large", vocab_size);

  const std::array<int32_t, 256>& byte_ids = gpt2_byte_ids();
  std::vector<std::string> tokens(256);
  for (int b = 0; b < 256; ++b) tokens[byte_ids[b]] = std::string(1, char(b));
  std::unordered_map<std::string, int32_t> id_of_token;
  for (int32_t id = 0; id < 256; ++id) id_of_token[tokens[id]] = id;

  // Words in sorted order, so hash-map iteration order cannot leak into the result.
  std::vector<std::pair<std::string_view, int64_t>> sorted;
  sorted.reserve(piece_counts.size());
  for (const auto& [piece, count] : piece_counts) sorted.emplace_back(piece, count);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> word_counts(sorted.size());
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> words_with_pair;
  for (size_t w = 0; w < sorted.size(); ++w) {
    for (char c : sorted[w].first) words[w].push_back(byte_ids[uint8_t(c)]);
    word_counts[w] = sorted[w].second;
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t key = Tokenizer::pair_key(words[w][i], words[w][i + 1]);
      pair_counts[key] += word_counts[w];
      words_with_pair[key].push_back(uint32_t(w));
    }
  }
  std::priority_queue<Candidate> heap;
  for (const auto& [key, count] : pair_counts)
    heap.push({count, int32_t(key >> 32), int32_t(uint32_t(key))});

  std::vector<Tokenizer::Merge> merges;
  std::unordered_map<uint64_t, int64_t> count_changes;
  std::vector<int32_t> merged_word;
  const auto pairs_of = [](const std::vector<int32_t>& word, int64_t weight,
                           std::unordered_map<uint64_t, int64_t>& changes) {
    for (size_t i = 0; i + 1 < word.size(); ++i)
      changes[Tokenizer::pair_key(word[i], word[i + 1])] += weight;
  };
  while (int64_t(tokens.size()) < vocab_size - 1 && !heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    const uint64_t key = Tokenizer::pair_key(top.left, top.right);
    const auto found = pair_counts.find(key);
    const int64_t count = found == pair_counts.end() ? 0 : found->second;
    // Entries go stale as counts fall; re-queue with the true count and look again.
    if (count != top.count) {
      if (count > 0) heap.push({count, top.left, top.right});
      continue;
    }
    const std::string merged_text = tokens[top.left] + tokens[top.right];
    int32_t result;
    if (const auto it = id_of_token.find(merged_text); it != id_of_token.end()) {
      result = it->second;  // the same bytes were already made from a different pair
    } else {
      result = int32_t(tokens.size());
      tokens.push_back(merged_text);
      id_of_token.emplace(merged_text, result);
    }
    merges.push_back({top.left, top.right, result});

    std::vector<uint32_t> affected = std::move(words_with_pair[key]);
    words_with_pair.erase(key);
    std::sort(affected.begin(), affected.end());
    affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
    count_changes.clear();
    for (uint32_t w : affected) {
      std::vector<int32_t>& word = words[w];
      merged_word.clear();
      bool changed = false;
      for (size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == top.left && word[i + 1] == top.right) {
          merged_word.push_back(result);
          ++i;
          changed = true;
        } else {
          merged_word.push_back(word[i]);
        }
      }
      if (!changed) continue;  // listed under this pair before an earlier merge removed it
      pairs_of(word, -word_counts[w], count_changes);
      pairs_of(merged_word, word_counts[w], count_changes);
      for (size_t i = 0; i + 1 < merged_word.size(); ++i)
        if (merged_word[i] == result || merged_word[i + 1] == result)
          words_with_pair[Tokenizer::pair_key(merged_word[i], merged_word[i + 1])].push_back(w);
      word.swap(merged_word);
    }
    for (const auto& [changed_key, change] : count_changes) {
      if (change == 0) continue;
      int64_t& updated = pair_counts[changed_key];
      updated += change;
      MOET_CHECK(updated >= 0);
      if (updated == 0) pair_counts.erase(changed_key);
      else if (change > 0) heap.push({updated, int32_t(changed_key >> 32), int32_t(uint32_t(changed_key))});
    }
  }
  const int32_t eot = int32_t(tokens.size());
  tokens.emplace_back(kEndOfText);
  return Tokenizer::from_parts(std::move(tokens), byte_ids, std::move(merges), eot);
}

}  // namespace moet
