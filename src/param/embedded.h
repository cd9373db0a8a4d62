// The preset tables compiled into the binary (src/param/presets/*.toml, by cmake/embed.cmake),
// so `moet` finds them wherever it runs.
#pragma once

#include <map>
#include <string>

namespace moet::param {

// File stem -> file text, sorted by stem. Defined in the generated embedded_presets.cpp.
const std::map<std::string, std::string>& embedded_presets();

}  // namespace moet::param
