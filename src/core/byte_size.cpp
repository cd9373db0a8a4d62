#include "core/byte_size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace moet {

namespace {

std::string lowercase(std::string text) {
  for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The multiplier of a unit written in lower case, or 0 when it is not one.
double unit_bytes(const std::string& unit) {
  if (unit.empty() || unit == "b") return 1;
  const std::string prefixes = "kmgt";
  const size_t power = prefixes.find(unit[0]);
  if (power == std::string::npos) return 0;
  if (unit.size() == 3 && unit.substr(1) == "ib") return std::pow(1024.0, double(power + 1));
  if (unit.size() == 2 && unit[1] == 'b') return std::pow(1000.0, double(power + 1));
  return 0;
}

}  // namespace

int64_t parse_byte_size(const std::string& text, const std::string& key) {
  const auto bad = [&]() -> Error {
    return Error(
        fmt::format("{}: '{}' is not a size in bytes (e.g. 8GiB, 512MiB, 2GB)", key, text));
  };
  const char* begin = text.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(number) || number < 0 || std::isspace(*begin)) throw bad();
  std::string unit(end);
  unit.erase(0, unit.find_first_not_of(' '));
  const double scale = unit_bytes(lowercase(unit));
  if (scale == 0) throw bad();
  const double bytes = std::round(number * scale);
  // 2^63 is the first double past int64's range.
  if (!(bytes < 9223372036854775808.0)) fail("{}: '{}' does not fit in 64 bits", key, text);
  return int64_t(bytes);
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = double(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) value /= 1024, ++unit;
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.{}f} {}", value, value < 10 ? 2 : value < 100 ? 1 : 0, units[unit]);
}

}  // namespace moet
