// The settings that shape training without being per-tensor — the optimizer's constants, the LR
// schedule (every lr of the parameterization table is its peak), the norms' epsilon and the
// balancing losses' weights — as the lines `moet params` and the trainer print under the table,
// so what they print covers what trains.
#pragma once

#include <string>

#include "core/config.h"

namespace moet {

// Three lines (optimizer, schedule, model), each ending in a newline, after an empty line.
std::string format_settings(const Config& config);

}  // namespace moet
