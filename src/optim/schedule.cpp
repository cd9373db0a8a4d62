#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace moet {

int64_t warmup_steps(const OptimConfig& c, int64_t total_steps) {
  const double w = c.warmup < 1 ? c.warmup * double(total_steps) : c.warmup;
  return std::min<int64_t>(total_steps, int64_t(std::llround(w)));
}

double lr_factor(const OptimConfig& c, int64_t step, int64_t total_steps) {
  const int64_t warmup = warmup_steps(c, total_steps);
  // Step 0 already moves (by 1/warmup of the peak), as in nanoGPT.
  if (step < warmup) return double(step + 1) / double(warmup);
  if (c.schedule == Schedule::constant) return 1.0;
  const double floor = c.lr_floor;
  if (c.schedule == Schedule::cosine) {
    const int64_t span = std::max<int64_t>(1, total_steps - warmup);
    const double progress = std::min(1.0, double(step - warmup) / double(span));
    return floor + (1 - floor) * 0.5 * (1 + std::cos(M_PI * progress));
  }
  // Schedule::wsd
  const int64_t decay_steps = int64_t(std::llround(c.decay * double(total_steps)));
  const int64_t decay_start = total_steps - decay_steps;
  if (step < decay_start || decay_steps == 0) return 1.0;
  const double progress = double(step - decay_start + 1) / double(decay_steps);
  return 1.0 - (1.0 - floor) * std::min(1.0, progress);
}

}  // namespace moet
