// GPT-2's reversible byte <-> character mapping, the alphabet of encoder.json and vocab.bpe.
//
// Each of the 256 byte values is shown as one printable Unicode character: the 188 printable
// Latin-1 bytes stand for themselves, the rest (controls, space, ...) are shifted to U+0100 and up
// (space becomes 'Ġ', newline 'Ċ'). Token strings in GPT-2 files are these characters, UTF-8
// encoded. GPT-2 also numbers its 256 byte tokens in this table's order (printable bytes first),
// and moet's trained tokenizers keep that numbering so byte ids agree with GPT-2's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moet {

// The character standing for byte b, UTF-8 encoded.
const std::string& byte_to_unicode(uint8_t byte);
// Token bytes -> their GPT-2 file spelling.
std::string bytes_to_gpt2_text(std::string_view bytes);
// GPT-2 file spelling -> token bytes; nullopt if a character is not in the mapping.
std::optional<std::string> gpt2_text_to_bytes(std::string_view text);
// GPT-2's id of each byte token (0..255, printable bytes first).
const std::array<int32_t, 256>& gpt2_byte_ids();

}  // namespace moet
