// format_table: the resolved parameterization as a human table (`moet params`, start of training).
#pragma once

#include <string>

#include "param/resolve.h"

namespace moet::param {

// Header (preset, regime, depth, shapes, globals, block scalars), one row per tensor, then
// warnings.
std::string format_table(const Parameterization& p);

}  // namespace moet::param
