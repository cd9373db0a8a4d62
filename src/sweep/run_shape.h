// A trial's run along the run axes of a ladder (sweep/ladder_axis.h): its token budget, batch
// and steps, read from its config.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace moet::sweep {

struct RunShape {
  int64_t tokens = 0;  // train.steps x train.batch x train.accum x model.seq
  int64_t batch = 0;   // train.batch
  int64_t steps = 0;
};

RunShape run_shape_of(const Config& config);
// From a trial's stored config TOML; `what` names it in an Error.
RunShape run_shape_of(const std::string& config_toml, const std::string& what);

}  // namespace moet::sweep
