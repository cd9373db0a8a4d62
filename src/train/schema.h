// The full config schema: the union of every layer's keys. Every command loads configs with it,
// so one file can carry model, parameterization, optimizer, data and training settings, and an
// unknown key is an error everywhere.
#pragma once

#include <vector>

#include "core/config.h"

namespace moet {

std::vector<KeySpec> full_config_schema();

}  // namespace moet
