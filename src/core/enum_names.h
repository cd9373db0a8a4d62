// EnumName: the one table of names of a closed option (model.norm, optim.name, a run's status,
// ...). The option is parsed into its enum once, where the config or file is read, and printed
// back from the same table, so the text in configs, JSON and databases cannot drift from the
// code that branches on the enum.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace moet {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E, size_t n>
const char* enum_name(E value, const EnumName<E> (&names)[n]) {
  for (const auto& entry : names)
    if (entry.value == value) return entry.name;
  return "?";
}

template <typename E, size_t n>
std::optional<E> enum_from_name(std::string_view name, const EnumName<E> (&names)[n]) {
  for (const auto& entry : names)
    if (name == entry.name) return entry.value;
  return std::nullopt;
}

template <typename E, size_t n>
std::vector<std::string> enum_names(const EnumName<E> (&names)[n]) {
  std::vector<std::string> out;
  for (const auto& entry : names) out.emplace_back(entry.name);
  return out;
}

// The value named by text, else throws Error "key: 'text' is not one of a|b|c" (require_choice's
// line).
template <typename E, size_t n>
E parse_enum(const std::string& key, const std::string& text, const EnumName<E> (&names)[n]) {
  if (const auto value = enum_from_name(text, names)) return *value;
  fail("{}: '{}' is not one of {}", key, text, join(enum_names(names), "|"));
}

}  // namespace moet
