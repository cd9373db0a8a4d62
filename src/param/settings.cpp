#include "param/settings.h"

#include <utility>

#include "core/error.h"
#include "param/preset.h"

namespace moet::param {

std::vector<KeySpec> param_config_keys() {
  return {
      {"param.preset", KeyType::String, "completep-moe",
       "parameterization: " + join(param::preset_names(), " | ") + ", or a path to a .toml table"},
      {"param.regime", KeyType::String, "auto",
       "co-scaling regime for presets with regime rules (mssp): auto | I | II | III"},
      {"param.depth", KeyType::String, "preset",
       "depth rule composed with the preset: preset (its default) | " +
           join(param::depth_rule_names(), " | ")},
      {"param.init_std", KeyType::Float, "0",
       "sigma0, the global init-std multiplier tuned at the base (0 = the preset's default)"},
      {"param.base.N", KeyType::Int, "0", "base shape width (0 = same as model.N)"},
      {"param.base.Ne", KeyType::Int, "0", "base shape expert width (0 = same as model.Ne)"},
      {"param.base.M", KeyType::Int, "0", "base shape experts (0 = same as model.M)"},
      {"param.base.K", KeyType::Int, "0", "base shape active experts (0 = same as model.K)"},
      {"param.base.L", KeyType::Int, "0", "base shape depth (0 = same as model.L)"},
      // Left out of stored configs at their defaults, so configs and sweep trials written before
      // the keys existed stay what they were.
      {"param.base.tokens", KeyType::Int, "0",
       "base run's token budget, train.steps x batch x accum x seq, for rules in D (0 = the "
       "run's own)",
       true},
      {"param.base.batch", KeyType::Int, "0",
       "base run's tokens per optimizer step, batch x accum x seq, for rules in B (0 = the run's "
       "own)",
       true},
      {"param.run_rules", KeyType::Bool, "true",
       "apply the preset's token-budget (D) and batch (B) rules; false: D = B = 1", true},
  };
}

ParamSettings param_settings_from(const Config& c, const ModelConfig& target) {
  ParamSettings s;
  s.preset = c.get_string("param.preset");
  s.regime = c.get_string("param.regime");
  std::vector<std::string> depths = depth_rule_names();
  depths.insert(depths.begin(), "preset");
  const std::string& depth = require_choice("param.depth", c.get_string("param.depth"), depths);
  if (depth != "preset") s.depth = depth;
  s.init_std = c.get_float("param.init_std");
  if (!(s.init_std >= 0))
    fail("param.init_std: must not be negative (got {}; 0 means the preset's default)", s.init_std);
  const AxisValues model = axis_values(target);
  for (const Axis a : kAllAxes) {
    const std::string key = fmt::format("param.base.{}", axis_name(a));
    const int64_t v = c.get_int(key);
    if (v < 0) fail("{}: must not be negative (got {}; 0 means model.{})", key, v, axis_name(a));
    s.base[a] = v == 0 ? model[a] : v;
  }
  if (s.base[Axis::K] > s.base[Axis::M])
    fail("param.base.K: must not exceed the base M (K {} > M {})", s.base[Axis::K],
         s.base[Axis::M]);
  if (s.base[Axis::N] % target.d_head != 0)
    fail("param.base.N: must be divisible by model.d_head (N {} is not a multiple of d_head {})",
         s.base[Axis::N], target.d_head);
  validate(with_axes(target, s.base));
  s.run = run_horizon_of(c);
  s.run_rules = c.get_bool("param.run_rules");
  s.base_run = s.run;
  for (auto [key, field] : {std::pair{"param.base.tokens", &RunHorizon::tokens},
                            std::pair{"param.base.batch", &RunHorizon::batch}}) {
    const int64_t v = c.get_int(key);
    if (v < 0) fail("{}: must not be negative (got {}; 0 means the run's own)", key, v);
    if (v > 0 && s.run_rules) s.base_run.*field = v;
  }
  return s;
}

}  // namespace moet::param
