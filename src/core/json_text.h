// JSON read from files (checkpoint state, safetensors headers, tokenizer vocabularies, run
// status): a syntax error becomes one short line naming the source and the byte, with an escaped
// excerpt of the text there instead of nlohmann's message, which echoes what it last read raw.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moet {

// Throws Error "<source>: invalid JSON at byte N: "<excerpt>"".
nlohmann::json parse_json(std::string_view text, const std::string& source);
// The value when it is an integer that fits int64 (nlohmann keeps large ones unsigned), else
// nullopt (also for 2.0: a float is not an integer field).
std::optional<int64_t> json_int64(const nlohmann::json& value);
// v as a JSON number, or null for NaN and the infinities, which JSON cannot hold (a reader tests
// is_null(), not a number it cannot parse).
nlohmann::json finite_or_null(double v);
// A value for a message: a string as its escaped text ("F16"), anything else as escaped JSON.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 40);

}  // namespace moet
