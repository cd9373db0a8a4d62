#include "data/unicode.h"

#include <algorithm>
#include <array>

namespace moet {

namespace {

bool in_ranges(uint32_t cp, const CodeRange* ranges, size_t count) {
  const CodeRange* end = ranges + count;
  const CodeRange* it = std::upper_bound(
      ranges, end, cp, [](uint32_t value, const CodeRange& r) { return value < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

bool is_white_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

CharClass classify_slow(uint32_t cp) {
  if (cp == kInvalidCodePoint) return CharClass::Other;
  if (is_white_space(cp)) return CharClass::Space;
  if (in_ranges(cp, unicode_tables::kLetters, unicode_tables::kLetters_count))
    return CharClass::Letter;
  if (in_ranges(cp, unicode_tables::kNumbers, unicode_tables::kNumbers_count))
    return CharClass::Number;
  return CharClass::Other;
}

// Latin-1 covers nearly every character of English text; a table spares the binary search.
const std::array<CharClass, 256> kLatin1 = [] {
  std::array<CharClass, 256> table{};
  for (uint32_t cp = 0; cp < 256; ++cp) table[cp] = classify_slow(cp);
  return table;
}();

}  // namespace

CodePoint decode_utf8(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(at);
  if (lead < 0x80) return {lead, 1};
  uint32_t length = 0, value = 0, min_value = 0;
  if ((lead & 0xE0) == 0xC0)
    length = 2, value = lead & 0x1F, min_value = 0x80;
  else if ((lead & 0xF0) == 0xE0)
    length = 3, value = lead & 0x0F, min_value = 0x800;
  else if ((lead & 0xF8) == 0xF0)
    length = 4, value = lead & 0x07, min_value = 0x10000;
  else
    return {kInvalidCodePoint, 1};
  if (at + length > text.size()) return {kInvalidCodePoint, 1};
  for (uint32_t i = 1; i < length; ++i) {
    const uint8_t next = byte(at + i);
    if ((next & 0xC0) != 0x80) return {kInvalidCodePoint, 1};
    value = (value << 6) | (next & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return {kInvalidCodePoint, 1};
  return {value, length};
}

CharClass char_class(uint32_t code_point) {
  return code_point < 256 ? kLatin1[code_point] : classify_slow(code_point);
}

bool is_valid_utf8(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const CodePoint cp = decode_utf8(text, at);
    if (cp.value == kInvalidCodePoint) return false;
    at += cp.length;
  }
  return true;
}

}  // namespace moet
