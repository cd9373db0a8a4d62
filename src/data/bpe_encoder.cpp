#include "data/bpe_encoder.h"

#include <queue>

#include "data/pretokenize.h"

namespace moet {

namespace {
// Pieces longer than this are merged every time: caching them would only hold memory.
constexpr size_t kMaxCachedPieceBytes = 128;
// Bounds the cache when encoding very large, varied corpora; hitting it just starts over.
constexpr size_t kMaxCachedPieces = size_t(1) << 21;
}  // namespace

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& out) {
  PreTokenizer pieces(text);
  std::string_view piece;
  while (pieces.next(piece)) {
    if (piece.size() > kMaxCachedPieceBytes) {
      merge_piece(piece, out);
      continue;
    }
    if (const auto it = cache_.find(piece); it != cache_.end()) {
      const auto [offset, count] = it->second;
      out.insert(out.end(), cached_ids_.begin() + offset, cached_ids_.begin() + offset + count);
      continue;
    }
    if (cache_.size() >= kMaxCachedPieces) cache_.clear(), cached_ids_.clear();
    piece_ids_.clear();
    merge_piece(piece, piece_ids_);
    cache_.emplace(std::string(piece),
                   std::make_pair(uint32_t(cached_ids_.size()), uint32_t(piece_ids_.size())));
    cached_ids_.insert(cached_ids_.end(), piece_ids_.begin(), piece_ids_.end());
    out.insert(out.end(), piece_ids_.begin(), piece_ids_.end());
  }
}

void BpeEncoder::merge_piece(std::string_view piece, std::vector<int32_t>& out) {
  const int32_t n = int32_t(piece.size());
  ids_.resize(n), prev_.resize(n), next_.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    ids_[i] = tokenizer_.byte_id(uint8_t(piece[i]));
    prev_[i] = i - 1;
    next_[i] = i + 1;  // n marks the end
  }
  // Lowest rank first, then leftmost: the order GPT-2's encoder applies merges in.
  using Candidate = std::pair<int32_t, int32_t>;  // (rank, position of the left symbol)
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto offer = [&](int32_t left) {
    const int32_t right = next_[left];
    if (right >= n) return;
    const int32_t rank = tokenizer_.merge_rank(ids_[left], ids_[right]);
    if (rank >= 0) heap.emplace(rank, left);
  };
  for (int32_t i = 0; i + 1 < n; ++i) offer(i);
  while (!heap.empty()) {
    const auto [rank, left] = heap.top();
    heap.pop();
    const int32_t right = next_[left];
    // Stale when either symbol has merged since: a dead symbol has prev_ set to -2.
    if (prev_[left] == -2 || right >= n || tokenizer_.merge_rank(ids_[left], ids_[right]) != rank)
      continue;
    ids_[left] = tokenizer_.merges()[rank].result;
    next_[left] = next_[right];
    if (next_[right] < n) prev_[next_[right]] = left;
    prev_[right] = -2;
    if (prev_[left] >= 0) offer(prev_[left]);
    offer(left);
  }
  for (int32_t i = 0; i < n; i = next_[i]) out.push_back(ids_[i]);
}

std::vector<int32_t> encode_text(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<int32_t> ids;
  BpeEncoder(tokenizer).encode(text, ids);
  return ids;
}

}  // namespace moet
