#include "data/pretokenize.h"

#include "data/unicode.h"

namespace moet {

namespace {

// Length of the contraction ('s 't 'm 'd 're 've 'll, lower case only, as in GPT-2) at `at`, or 0.
size_t contraction_length(std::string_view text, size_t at) {
  if (text[at] != '\'' || at + 1 >= text.size()) return 0;
  const char c = text[at + 1];
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
  if (at + 2 < text.size()) {
    const std::string_view two = text.substr(at + 1, 2);
    if (two == "re" || two == "ve" || two == "ll") return 3;
  }
  return 0;
}

CharClass class_at(std::string_view text, size_t at, uint32_t& length) {
  const CodePoint cp = decode_utf8(text, at);
  length = cp.length;
  return char_class(cp.value);
}

}  // namespace

bool PreTokenizer::next(std::string_view& piece) {
  const std::string_view text = text_;
  const size_t start = at_;
  if (start >= text.size()) return false;
  size_t end = start;
  if (const size_t n = contraction_length(text, start)) {
    end = start + n;
  } else {
    uint32_t length = 0;
    CharClass run = class_at(text, start, length);
    size_t run_start = start + length;
    // ` ?X+`: one ASCII space joins a following letter, number or other run.
    if (text[start] == ' ' && run_start < text.size()) {
      uint32_t next_length = 0;
      const CharClass next = class_at(text, run_start, next_length);
      if (next != CharClass::Space) run = next, run_start += next_length;
    }
    end = run_start;
    if (run != CharClass::Space) {
      while (end < text.size()) {
        if (class_at(text, end, length) != run) break;
        end += length;
      }
    } else {
      // `\s+(?!\S)|\s+`: a whitespace run, minus its last character when a non-space follows
      // and the run is longer than one (that last space then leads the next word).
      size_t last_start = start;
      while (end < text.size()) {
        if (class_at(text, end, length) != CharClass::Space) break;
        last_start = end;
        end += length;
      }
      if (end < text.size() && last_start > start) end = last_start;
    }
  }
  piece = text.substr(start, end - start);
  at_ = end;
  return true;
}

}  // namespace moet
