// The memory check of a sweep, before its first trial runs: every trial must fit on its own
// (the refusal names its ladder point and the estimate), and the plan's workers must fit side by
// side running the largest trials at once.
#pragma once

#include <vector>

#include "sweep/resources.h"
#include "sweep/spec.h"

namespace moet::sweep {

// Throws Error "<spec>: ladder 'x', scale s (preset p): memory: ..." for the first trial that
// cannot fit, or "<spec>: memory: W workers ..." when the largest W together cannot.
void require_trials_fit(const SweepSpec& spec, const std::vector<const Trial*>& trials,
                        const WorkerPlan& plan);

}  // namespace moet::sweep
