#include "train/settings_text.h"

#include <fmt/format.h>

#include "model/config.h"
#include "optim/config.h"

namespace moet {

std::string format_settings(const Config& config) {
  const OptimConfig o = optim_config_from(config);
  const ModelConfig m = model_config_from(config);
  std::string optimizer = o.clip > 0 ? fmt::format("clip {:.4g}", o.clip) : "clip off";
  if (o.is_adam()) optimizer += fmt::format("   beta1 {:.4g}   beta2 {:.4g}", o.beta1, o.beta2);
  if (o.kind == OptimizerKind::sgd) optimizer += fmt::format("   momentum {:.4g}", o.momentum);
  if (o.kind == OptimizerKind::muon)
    optimizer += fmt::format("   muon_momentum {:.4g}{}   muon_steps {}", o.muon_momentum,
                             o.muon_nesterov ? " (nesterov)" : "", o.muon_steps);
  std::string schedule = fmt::format("{}   warmup {}", name_of(o.schedule),
                                     o.warmup < 1 ? fmt::format("{:.4g} of the run", o.warmup)
                                                  : fmt::format("{:.0f} steps", o.warmup));
  if (o.schedule != Schedule::constant) schedule += fmt::format("   lr_floor {:.4g}", o.lr_floor);
  if (o.schedule == Schedule::wsd) schedule += fmt::format("   decay {:.4g}", o.decay);
  return fmt::format(
      "\noptimizer  {}\nschedule   {}\nmodel      norm_eps {:.4g}   aux_weight {:.4g}   "
      "z_weight {:.4g}\n",
      optimizer, schedule, m.norm_eps, m.aux_weight, m.z_weight);
}

}  // namespace moet
