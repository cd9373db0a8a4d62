// Numbers read from text that must hold the number and nothing else: config values and --set,
// command-line lists, checkpoint metadata. An empty text, a trailing character or a value out of
// range gives nullopt, for the caller to turn into its one-line message; never a partial read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moet {

// Decimal digits with an optional leading '-' (no spaces, no '+'), within int64.
std::optional<int64_t> parse_int64(std::string_view text);
// strtod's syntax (so "1e-3", " 2" and "0x1p3" too), and finite: "inf", "nan" and overflow fail.
std::optional<double> parse_finite_double(const std::string& text);

}  // namespace moet
