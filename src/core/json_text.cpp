#include "core/json_text.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moet {

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts from 1 and points just past what was read; show the text leading up to it.
    const size_t at = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const size_t from = at > 40 ? at - 40 : 0;
    fail("{}: invalid JSON at byte {}: {}", source, at, escaped_excerpt(text.substr(from, 60)));
  }
}

std::optional<int64_t> json_int64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t n = value.get<uint64_t>();
    return n <= uint64_t(INT64_MAX) ? std::optional(int64_t(n)) : std::nullopt;
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string json_excerpt(const nlohmann::json& value, size_t max_chars) {
  return escaped_excerpt(value.is_string() ? value.get_ref<const std::string&>() : value.dump(),
                         max_chars);
}

}  // namespace moet
