// Byte counts as people write and read them: "8GiB", "512 MiB", "1.5GB", "4096" (bytes).
#pragma once

#include <cstdint>
#include <string>

namespace moet {

// A number (integer or decimal) with an optional unit: B, KiB, MiB, GiB, TiB (powers of 1024)
// or kB, MB, GB, TB (powers of 1000), case-insensitive, spaces allowed before the unit. Throws
// Error "<key>: ..." when the text is not such a size or the size does not fit in int64.
int64_t parse_byte_size(const std::string& text, const std::string& key);
// "1.2 GiB", "512 MiB", "37 B": three significant digits in the largest binary unit that fits.
std::string format_bytes(int64_t bytes);

}  // namespace moet
