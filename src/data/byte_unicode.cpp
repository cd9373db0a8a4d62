#include "data/byte_unicode.h"

#include <vector>

#include "data/unicode.h"

namespace moet {

namespace {

std::string utf8_encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
  return out;
}

struct Mapping {
  std::array<std::string, 256> text_of_byte;
  std::array<int32_t, 256> id_of_byte;
  std::array<int16_t, 512> byte_of_code_point;  // -1 where no byte maps; every code point < 0x144
};

const Mapping& mapping() {
  static const Mapping m = [] {
    Mapping m;
    // GPT-2 encoder.py bytes_to_unicode(): printable ranges keep their code point, in this order.
    std::vector<int> order, code_points;
    for (int b = '!'; b <= '~'; ++b) order.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) order.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) order.push_back(b);
    code_points = order;
    int shifted = 0;
    std::array<bool, 256> printable{};
    for (int b : order) printable[b] = true;
    for (int b = 0; b < 256; ++b)
      if (!printable[b]) order.push_back(b), code_points.push_back(256 + shifted++);
    m.byte_of_code_point.fill(-1);
    for (int i = 0; i < 256; ++i) {
      m.text_of_byte[order[i]] = utf8_encode(uint32_t(code_points[i]));
      m.id_of_byte[order[i]] = i;
      m.byte_of_code_point[code_points[i]] = int16_t(order[i]);
    }
    return m;
  }();
  return m;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return mapping().text_of_byte[byte]; }

std::string bytes_to_gpt2_text(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_to_unicode(uint8_t(c));
  return out;
}

std::optional<std::string> gpt2_text_to_bytes(std::string_view text) {
  const Mapping& m = mapping();
  std::string out;
  for (size_t at = 0; at < text.size();) {
    const CodePoint cp = decode_utf8(text, at);
    if (cp.value >= m.byte_of_code_point.size() || m.byte_of_code_point[cp.value] < 0)
      return std::nullopt;
    out += char(m.byte_of_code_point[cp.value]);
    at += cp.length;
  }
  return out;
}

const std::array<int32_t, 256>& gpt2_byte_ids() { return mapping().id_of_byte; }

}  // namespace moet
