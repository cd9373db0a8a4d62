#include "data/tokenizer.h"

#include <nlohmann/json.hpp>

#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/json_text.h"
#include "data/byte_unicode.h"

namespace moet {

Tokenizer Tokenizer::from_parts(std::vector<std::string> token_bytes,
                                const std::array<int32_t, 256>& byte_ids, std::vector<Merge> merges,
                                int32_t eot) {
  Tokenizer t;
  t.tokens_ = std::move(token_bytes);
  t.byte_ids_ = byte_ids;
  t.merges_ = std::move(merges);
  t.eot_ = eot;
  const int32_t size = int32_t(t.tokens_.size());
  const auto valid = [size](int32_t id) { return id >= 0 && id < size; };
  t.is_special_.assign(size, false);
  for (int b = 0; b < 256; ++b)
    MOET_CHECK(valid(byte_ids[b]) && t.tokens_[byte_ids[b]].size() == 1);
  for (size_t rank = 0; rank < t.merges_.size(); ++rank) {
    const Merge& m = t.merges_[rank];
    MOET_CHECK(valid(m.left) && valid(m.right) && valid(m.result));
    // A pair listed twice keeps its first (best) rank, as GPT-2's encoder does.
    t.rank_of_pair_.emplace(pair_key(m.left, m.right), int32_t(rank));
  }
  if (eot >= 0) {
    MOET_CHECK(valid(eot));
    t.is_special_[eot] = true;
  }
  return t;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= int32_t(tokens_.size()))
    fail("token id {} is outside the vocabulary [0, {})", id, tokens_.size());
  return tokens_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id);
  return out;
}

namespace {

// GPT-2's encoder.json: token text -> id, and per id its text and its bytes.
struct Gpt2Encoder {
  std::map<std::string, int32_t> id_of_text;
  std::vector<std::string> tokens;  // bytes; a token outside the byte alphabet is its literal text
  std::vector<std::string> texts;   // as written in the file
  std::vector<bool> seen;
};

Gpt2Encoder read_gpt2_encoder(std::string_view encoder_json, const std::string& encoder_source) {
  const nlohmann::json encoder = parse_json(encoder_json, encoder_source);
  if (!encoder.is_object() || encoder.empty())
    fail("{}: expected a JSON object mapping tokens to ids", encoder_source);

  // Ids index tables sized by the number of entries: they must be 0 .. entries - 1, each once
  // (GPT-2's own file is), so a single huge id cannot size a table.
  const int64_t entries = int64_t(encoder.size());
  if (entries > int64_t(INT32_MAX))
    fail("{}: {} entries, more than int32 ids can number", encoder_source, entries);
  Gpt2Encoder e;
  e.tokens.resize(static_cast<size_t>(entries));
  e.texts.resize(e.tokens.size());
  e.seen.assign(e.tokens.size(), false);
  for (const auto& [text, value] : encoder.items()) {
    const std::optional<int64_t> id = json_int64(value);
    if (!id || *id < 0 || *id >= entries)
      fail("{}: token {} has id {}, expected an integer in [0, {}) (one id per entry)",
           encoder_source, escaped_excerpt(text, 40), json_excerpt(value, 24), entries);
    if (e.seen[size_t(*id)])
      fail("{}: id {} is given to two tokens, {} and {}", encoder_source, *id,
           escaped_excerpt(e.texts[size_t(*id)], 40), escaped_excerpt(text, 40));
    e.seen[size_t(*id)] = true;
    e.id_of_text[text] = int32_t(*id);
    e.texts[size_t(*id)] = text;
    // Tokens outside the byte alphabet can only be special; their bytes are their literal text.
    e.tokens[size_t(*id)] = gpt2_text_to_bytes(text).value_or(text);
  }
  return e;
}

// The id of each of the 256 byte tokens, every one of which the encoder must hold.
std::array<int32_t, 256> gpt2_byte_token_ids(const Gpt2Encoder& e,
                                             const std::string& encoder_source) {
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    const auto it = e.id_of_text.find(byte_to_unicode(uint8_t(b)));
    if (it == e.id_of_text.end())
      fail("{}: byte token {} (byte {}) is missing", encoder_source,
           nlohmann::json(byte_to_unicode(uint8_t(b))).dump(), b);
    byte_ids[b] = it->second;
  }
  return byte_ids;
}

// vocab.bpe: one merge "left right" a line, in rank order, after an optional #version line;
// every token named, and the merged text, must be in the encoder.
std::vector<Tokenizer::Merge> read_gpt2_merges(std::string_view vocab_bpe, const Gpt2Encoder& e,
                                               const std::string& vocab_source,
                                               const std::string& encoder_source) {
  std::vector<Tokenizer::Merge> merges;
  size_t line_number = 0;
  size_t at = 0;
  while (at < vocab_bpe.size()) {
    size_t end = vocab_bpe.find('\n', at);
    if (end == std::string_view::npos) end = vocab_bpe.size();
    std::string_view line = vocab_bpe.substr(at, end - at);
    at = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.starts_with("#version"))) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      fail("{}:{}: expected two tokens separated by one space", vocab_source, line_number);
    const std::string left(line.substr(0, space)), right(line.substr(space + 1));
    const auto id_of = [&](const std::string& text) {
      const auto it = e.id_of_text.find(text);
      if (it == e.id_of_text.end())
        fail("{}:{}: token {} is not in {}", vocab_source, line_number, escaped_excerpt(text, 40),
             encoder_source);
      return it->second;
    };
    merges.push_back({id_of(left), id_of(right), id_of(left + right)});
  }
  return merges;
}

}  // namespace

Tokenizer Tokenizer::from_gpt2(std::string_view encoder_json, std::string_view vocab_bpe,
                               const std::string& encoder_source, const std::string& vocab_source) {
  Gpt2Encoder encoder = read_gpt2_encoder(encoder_json, encoder_source);
  const std::array<int32_t, 256> byte_ids = gpt2_byte_token_ids(encoder, encoder_source);
  std::vector<Merge> merges = read_gpt2_merges(vocab_bpe, encoder, vocab_source, encoder_source);
  std::vector<bool> made_by_merge(encoder.tokens.size(), false);
  for (const Merge& merge : merges) made_by_merge[merge.result] = true;

  int32_t eot = -1;
  if (const auto it = encoder.id_of_text.find(std::string(kEndOfText));
      it != encoder.id_of_text.end()) {
    eot = it->second;
    if (made_by_merge[eot])
      fail("{}: {} is produced by a merge, so it would not be special", vocab_source, kEndOfText);
  }
  Tokenizer t = from_parts(std::move(encoder.tokens), byte_ids, std::move(merges), eot);
  // Every other token outside bytes and merge results is special too (text never encodes to
  // it), and stands for its literal text.
  std::vector<bool> is_byte(t.tokens_.size(), false);
  for (int32_t id : byte_ids) is_byte[id] = true;
  for (size_t id = 0; id < t.tokens_.size(); ++id)
    if (encoder.seen[id] && !is_byte[id] && !made_by_merge[id]) {
      t.is_special_[id] = true;
      t.tokens_[id] = encoder.texts[id];
    }
  return t;
}

Tokenizer Tokenizer::load(const std::string& dir) {
  const std::string encoder_path = dir + "/encoder.json", vocab_path = dir + "/vocab.bpe";
  if (!file_exists(encoder_path) || !file_exists(vocab_path))
    fail("{}: not a tokenizer directory (needs encoder.json and vocab.bpe)", dir);
  return from_gpt2(read_file(encoder_path), read_file(vocab_path), encoder_path, vocab_path);
}

std::string Tokenizer::encoder_json() const {
  // One token per line in id order, UTF-8 unescaped: readable, and diffs of retrained files stay
  // small.
  std::string out = "{";
  bool first = true;
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (tokens_[id].empty()) continue;  // an id a loaded file left unused
    const std::string text = is_special_[id] ? tokens_[id] : bytes_to_gpt2_text(tokens_[id]);
    out += fmt::format("{}\n{}: {}", first ? "" : ",", nlohmann::json(text).dump(), id);
    first = false;
  }
  return out + "\n}\n";
}

std::string Tokenizer::vocab_bpe() const {
  std::string out = "#version: 0.2\n";
  for (const Merge& m : merges_)
    out += bytes_to_gpt2_text(tokens_[m.left]) + " " + bytes_to_gpt2_text(tokens_[m.right]) + "\n";
  return out;
}

void Tokenizer::save(const std::string& dir) const {
  make_dirs(dir);
  write_file_atomic(dir + "/encoder.json", encoder_json());
  write_file_atomic(dir + "/vocab.bpe", vocab_bpe());
}

}  // namespace moet
