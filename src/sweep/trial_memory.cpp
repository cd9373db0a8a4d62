#include "sweep/trial_memory.h"

#include <algorithm>
#include <functional>

#include "core/byte_size.h"
#include "core/checked_size.h"
#include "core/error.h"
#include "train/run_memory.h"
#include "train/schema.h"

namespace moet::sweep {

namespace {

std::string place_of(const Trial& trial) {
  const LadderPoint& p = trial.points.front();
  return fmt::format("ladder '{}', scale {:g} (preset {})", p.ladder, p.scale, trial.preset);
}

}  // namespace

void require_trials_fit(const SweepSpec& spec, const std::vector<const Trial*>& trials,
                        const WorkerPlan& plan) {
  const std::vector<KeySpec> schema = full_config_schema();
  std::vector<int64_t> totals;
  RunMemory largest;
  for (const Trial* trial : trials) {
    const Config config = Config::load(schema, "", trial->sets);
    RunMemory memory = run_memory(config, RunKind::train, plan.threads);
    memory.require_fits(fmt::format("{}: {}: ", spec.source, place_of(*trial)));
    if (plan.ranks > 1) {
      // Each rank is estimated as one process holding the whole batch and optimizer state, more
      // than it holds: R of them bound the trial.
      const CheckedSize trial_total = CheckedSize(memory.estimate.total) * plan.ranks;
      if (trial_total.overflow() || trial_total.value() > memory.limit)
        fail("{}: {}: memory: {} ranks x {} estimated each is more than the {} {}; shrink the "
             "model or train.batch, or use fewer ranks",
             spec.source, place_of(*trial), plan.ranks, format_bytes(memory.estimate.total),
             format_bytes(memory.limit), memory.limit_source);
      memory.estimate.total = trial_total.value();
    }
    totals.push_back(memory.estimate.total);
    if (memory.estimate.total > largest.estimate.total) largest = memory;
  }
  if (plan.workers < 2 || totals.size() < 2) return;
  const size_t side_by_side = std::min(totals.size(), size_t(plan.workers));
  std::partial_sort(totals.begin(), totals.begin() + ptrdiff_t(side_by_side), totals.end(),
                    std::greater<>());
  CheckedSize together = 0;
  for (size_t i = 0; i < side_by_side; ++i) together += totals[i];
  if (together.overflow() || together.value() > largest.limit)
    fail("{}: memory: {} workers running the largest trials at once need {} estimated, more than "
         "the {} {}; run fewer with --workers",
         spec.source, side_by_side,
         together.overflow() ? std::string("past int64 bytes") : format_bytes(together.value()),
         format_bytes(largest.limit), largest.limit_source);
}

}  // namespace moet::sweep
